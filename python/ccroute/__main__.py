from ccroute.cli import main

raise SystemExit(main())
