from truceguard.cli import main

main()
