from eco2.cli import main

main()
