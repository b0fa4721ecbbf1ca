"""Global options anywhere on the command line (rpk/kcat habits).

Click only accepts the root group's options before the subcommand. People type
`chronik consume demo -b host:9092` and `chronik topics list -o json`, so before
click sees argv we move every global option to the front. Pure function, no
imports: it runs on every invocation, including Tab completion.

`-o` is the one option with two meanings: in `consume` it is the start offset
(as in kcat and rpk); everywhere else it is the output format. `--output` means
output format everywhere (in `consume` it selects `-f json`).
"""

from __future__ import annotations

# option -> takes a value
GLOBAL_OPTIONS = {
    "-b": True, "--brokers": True,
    "-X": True,
    "--output": True,
    "--debug": False,
    # The security of the cluster (issue 15).
    "-P": True, "--profile": True,
    "--security-protocol": True, "--sasl-mechanism": True,
    "--user": True, "--password": True,
    "--tls-ca": True, "--tls-cert": True, "--tls-key": True,
}
# Commands in which `-o` is their own option (the offset), not the output format.
OWN_DASH_O = {"consume"}
# Global options a command also has as its own: after that command they are its
# (the broker's own TLS and SASL settings, not the CLI's as a client).
OWN_OPTIONS = {
    "integrated": {"--tls-ca", "--tls-cert", "--tls-key", "--sasl-mechanism"},
}


def _split(tok: str) -> tuple[str, str | None]:
    """`--brokers=x` -> ("--brokers", "x"); `-bx` -> ("-b", "x"); `-b` -> ("-b", None)."""
    if tok.startswith("--"):
        name, eq, val = tok.partition("=")
        return name, (val if eq else None)
    if len(tok) > 2 and tok[:2] in ("-b", "-X", "-o"):
        return tok[:2], tok[2:]
    return tok, None


def hoist(argv: list[str]) -> list[str]:
    """Return argv with every global option moved in front of the first command word."""
    front: list[str] = []
    rest: list[str] = []
    command: str | None = None
    i = 0
    n = len(argv)
    while i < n:
        tok = argv[i]
        if tok == "--":
            rest.extend(argv[i:])
            break
        if not tok.startswith("-") or tok == "-":
            if command is None:
                command = tok
            rest.append(tok)
            i += 1
            continue
        name, val = _split(tok)
        is_output = name == "-o" and command not in OWN_DASH_O
        own = command is not None and name in OWN_OPTIONS.get(command, ())
        if (name in GLOBAL_OPTIONS or is_output) and not own:
            takes = GLOBAL_OPTIONS.get(name, True)
            if name == "-o":
                name = "--output"
            if not takes:
                front.append(name)
                i += 1
                continue
            if val is None:
                if i + 1 >= n:  # let click report the missing value
                    rest.append(tok)
                    break
                val = argv[i + 1]
                i += 1
            front += [name, val]
            i += 1
            continue
        rest.append(tok)
        i += 1
    return front + rest


def command_words(argv: list[str]) -> list[str]:
    """The command words of an already hoisted argv: ["topics", "list"], ["consume", "t"]."""
    words = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--":
            break
        if tok.startswith("-"):
            name, val = _split(tok)
            if name in GLOBAL_OPTIONS and GLOBAL_OPTIONS[name] and val is None:
                i += 1
            i += 1
            continue
        words.append(tok)
        i += 1
    return words
