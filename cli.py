"""`python cli.py …` behaves exactly like the installed `matcalc` command."""
from matcalc.cli import main

if __name__ == "__main__":
    main()
