"""ccroute: an event-sourced omnichannel routing engine for contact centres.

The embedded use is three lines::

    from ccroute import Engine
    engine = Engine.from_toml("ccroute.toml")
    decisions = engine.apply(event)
"""

from ccroute.config import Config, ConfigError, load_config
from ccroute.engine import Engine
from ccroute.events import SCHEMA_VERSION, Decision, Input

__all__ = ["SCHEMA_VERSION", "Config", "ConfigError", "Decision", "Engine", "Input", "load_config"]
__version__ = "0.1.0"
