//! The six contact channels and the classes the blending rules speak of.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Voice,
    Chat,
    Email,
    WebForm,
    Social,
    Callback,
}

pub const CHANNEL_COUNT: usize = 6;

impl Channel {
    pub const ALL: [Channel; CHANNEL_COUNT] = [
        Channel::Voice,
        Channel::Chat,
        Channel::Email,
        Channel::WebForm,
        Channel::Social,
        Channel::Callback,
    ];

    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }

    /// Phone work occupies the agent completely.
    #[inline]
    pub fn is_phone(self) -> bool {
        matches!(self, Channel::Voice | Channel::Callback)
    }

    /// A customer waits on the line: phone and chat.
    #[inline]
    pub fn is_live(self) -> bool {
        self.is_phone() || self == Channel::Chat
    }

    /// Work that can wait: e-mail, web forms, social messages.
    #[inline]
    pub fn is_deferred(self) -> bool {
        !self.is_live()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Voice => "voice",
            Channel::Chat => "chat",
            Channel::Email => "email",
            Channel::WebForm => "web_form",
            Channel::Social => "social",
            Channel::Callback => "callback",
        }
    }
}
