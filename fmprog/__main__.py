from fmprog.cli import main

raise SystemExit(main())
