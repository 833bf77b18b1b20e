from guichet.cli.main import main

main()
