import sys

from desktop_app.remote import main

sys.exit(main())
