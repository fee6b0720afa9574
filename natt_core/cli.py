"""`python -m natt_core scenarios | run NAME [--set KEY=VALUE ...] [--seed N] [--out DIR]`
`| config NAME --for strongswan|libreswan|windows [--peer server|client] [--set KEY=VALUE ...] [--out DIR]`
`| diagnose CAPTURE [OTHER_SIDE]` (a pcap/pcapng of a real connection: where NAT-T went wrong, without
keys; with a second capture from the other side of the NAT, also what the NAT did)
`| bench [--no-live] [--repeat N] [--clients N,N,...]` (natt_core.bench).

Errors the user can fix (unknown scenario, key or value) print one line on stderr and exit 2.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from .errors import NattError
from .lab.export import export
from .lab.ladder import ladder, summary
from .lab.presets import PRESETS, preset
from .lab.scenario import run
from .lab.settings import apply_settings

USAGE_ERROR = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, as for our own errors
        raise _UsageError(message)


class _UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m natt_core", description="NAT-T Lab: IKEv1 + NAT-T lessons on a virtual network")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("scenarios", help="list the preset scenarios")
    r = sub.add_parser("run", help="run a scenario and print its ladder")
    r.add_argument("name")
    r.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE")
    r.add_argument("--seed", type=int)
    r.add_argument("--out", metavar="DIR")
    r.add_argument("--verbose", action="store_true", help="also print every MessageSent event")
    c = sub.add_parser("config", help="print the configuration files of a real peer for a scenario",
                       description="Print the files with which a real peer stands in for the scenario's server "
                       "(default) or, with --peer client, for its client: strongSwan's swanctl.conf; libreswan's "
                       "ipsec.conf and ipsec.secrets (the server also gets xl2tpd.conf, options.xl2tpd and "
                       "chap-secrets); for Windows (a client only) the PowerShell Add-VpnConnection line and, "
                       "when the topology needs it, the AssumeUDPEncapsulationContextOnSendRule registry line. "
                       "Addresses, proposals, PSK, mode and traffic selectors come from the scenario (after --set).")
    c.add_argument("name")
    c.add_argument("--for", dest="target", required=True, choices=["strongswan", "libreswan", "windows"],
                   help="the real peer")
    c.add_argument("--out", metavar="DIR", help="write each file into DIR instead of printing them")
    c.add_argument("--peer", choices=["server", "client"],
                   help="which peer of the scenario the real one plays (default: server; client for windows)")
    c.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                   help="vary the scenario first, as for run")
    d = sub.add_parser("diagnose", help="say where NAT-T went wrong in a pcap/pcapng capture (no keys needed)")
    d.add_argument("capture", metavar="CAPTURE", help="a .pcap or .pcapng file ('-' reads standard input)")
    d.add_argument("other", metavar="OTHER_SIDE", nargs="?",
                   help="the same connection captured on the other side of the NAT: also print what the NAT did")
    from .bench import add_arguments
    add_arguments(sub.add_parser("bench", help="benchmarks with ratios from the same run (--no-live: no strongSwan)"))
    return p


MAX_CAPTURE = 256 * 1024 * 1024   #: bytes read from one capture file: /dev/zero or a huge file cannot exhaust memory


def _read(path: str) -> bytes:
    """The file's bytes, refusing at once what is no capture (its first four bytes say so)."""
    from .capture_read import CAPTURE_MAGICS
    try:
        f = sys.stdin.buffer if path == "-" else open(path, "rb")
        with f:
            head = f.read(4)
            if head not in CAPTURE_MAGICS:
                raise _UsageError(f"{path} is not a pcap or pcapng file (starts with {head.hex() or 'nothing'}); "
                                  "save the capture as .pcap or .pcapng")
            data = head + f.read(MAX_CAPTURE)
    except OSError as e:
        raise _UsageError(f"cannot read {path}: {e.strerror}") from None
    if len(data) > MAX_CAPTURE:
        raise _UsageError(f"{path} is larger than {MAX_CAPTURE // 2**20} MB; cut it to the connection attempt")
    return data


def _diagnose(path: str, other: str | None) -> int:
    from .analysis import diagnose
    result = diagnose(_read(path))
    marks = {"ok": "ok  ", "info": "info", "warning": "WARN", "problem": "FAIL"}
    h = result.headline
    print(f"{marks[h.severity]} {h.title}\n     {h.detail}")
    cap, obs = result.capture, result.observations
    print(f"     ({path}: {cap.format}, {cap.frames} frames, {obs.packets} IP packets diagnosed, "
          f"{cap.skipped} skipped frame(s) that are not IP, {len(obs.undecodable)} unreadable)")
    for note in cap.notes:
        print(f"     not read: {note}")
    for ex in result.exchanges:
        print(f"\nIKEv{ex.version} {ex.initiator} -> {ex.responder} ({'SPIs' if ex.version == 2 else 'cookies'} "
              f"{ex.cookies}); this capture is {ex.nat.where}")
        for n, t, label, src, dst, again in ex.messages:
            print(f"  #{n:<4} {t:9.3f}s  {label:5} {src} -> {dst}{'  (again)' if again else ''}")
    print()
    for f in result.findings:
        packets = f" [packets {', '.join(map(str, f.packets[:8]))}]" if f.packets else ""
        print(f"{marks[f.severity]} {f.title}{packets} ({f.reason})\n     {f.detail}")
    if other:
        try:
            other_result = diagnose(_read(other))
        except (NattError, _UsageError) as e:      # the first capture's diagnosis stands
            print(f"error: {_one_line(e)}", file=sys.stderr)
            sys.stdout.flush()
            return USAGE_ERROR
        _print_comparison(result, other_result, path, other)
    sys.stdout.flush()
    return 0


def _print_comparison(a, b, path_a: str, path_b: str) -> None:
    from .analysis.compare import compare
    c = compare(a.capture, b.capture)
    print(f"\nWhat the NAT did between A ({path_a}) and B ({path_b}): {len(c.pairs)} packets seen on both sides")
    for t in c.translations:
        kept = "  (port 500 kept)" if t.kept_port_500 else ""
        print(f"  {t.proto} {t.a} <-> {t.b} talking to {t.remote}: {t.sent} out, {t.received} back{kept}")
    for side, lost, d in (("A", c.only_a, a), ("B", c.only_b, b)):
        for s in lost:
            print(f"  only on {side}: #{s.index} {d.observations.labels.get(s.index, 'packet')} {s.src} -> {s.dst}")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # not a real file (e.g. captured output): nothing to flush
        pass


def _config(args) -> int:
    """Print (or write with --out) the files of the real peer; several files get `==> name <==` headers."""
    from .lab.config_files import config_files
    peer = args.peer or ("client" if args.target == "windows" else "server")
    files = config_files(apply_settings(preset(args.name), args.settings), args.target, peer)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (out / name).parent.mkdir(parents=True, exist_ok=True)   # swanctl's x509/, private/ …
            (out / name).write_text(text)
        print(f"wrote {len(files)} files to {out}: {', '.join(files)}")
        return 0
    for i, (name, text) in enumerate(files.items()):
        if len(files) > 1:
            print(("\n" if i else "") + f"==> {name} <==")
        print(text, end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = _parser().parse_args(argv)
        if args.command == "scenarios":
            for s in PRESETS.values():
                print(f"{s.name:28} {s.title}: {_one_line(s.story)}")
            return 0
        if args.command == "bench":
            from .bench import main as bench
            return bench(argv[1:])
        if args.command == "diagnose":
            return _diagnose(args.capture, args.other)
        if args.command == "config":
            return _config(args)
        scenario = apply_settings(preset(args.name), args.settings)
        if args.seed is not None:
            scenario = replace(scenario, seed=args.seed)
        trace = run(scenario)
        paths = export(trace, args.out) if args.out else []  # written even if the reader stops early
        print(f"{scenario.name}: {scenario.title}")
        print(_one_line(scenario.story))
        print()
        for line in ladder(trace, verbose=args.verbose):
            print(line)
        print()
        for line in summary(trace):
            print(line)
        if args.out:
            shown = ", ".join(str(Path(p).relative_to(args.out)) if Path(p).is_relative_to(args.out) else Path(p).name
                              for p in paths)
            print(f"wrote {len(paths)} files to {args.out}: {shown}")
        sys.stdout.flush()  # a reader that went away shows up here, not as a traceback at exit
        return 0
    except BrokenPipeError:  # `run NAME | head -3`: the reader has all it wanted
        _silence_stdout()
        return 0
    except (_UsageError, NattError, ValueError) as e:
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return USAGE_ERROR
