from kfusion.cli.main import main

raise SystemExit(main())
