"""`python -m natt_core …`: `bench` runs the benchmarks; everything else goes to the CLI."""
import sys


def main(argv: list[str]) -> int:
    if argv[:1] == ["bench"]:
        from .bench import main as bench
        return bench(argv[1:])
    from .cli import main as cli
    return cli(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
