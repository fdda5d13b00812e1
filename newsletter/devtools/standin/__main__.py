"""``python -m newsletter.devtools.standin --port 0 --api-key K``: see `command.main`."""

from newsletter.devtools.standin.command import main

raise SystemExit(main())
