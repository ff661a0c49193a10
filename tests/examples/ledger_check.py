#!/usr/bin/env python3
"""Checks a ledger run against what its clients were told.

    ledger_check.py ACCOUNTS SEED BALANCES AUDITS LOG...

ACCOUNTS accounts a0..a<ACCOUNTS-1> were each opened with a deposit of
SEED (command id "seed-<k+1>").  Each LOG is a `ledger-client run` record,
a line per operation: "ID KIND ACCOUNT TO AMOUNT STATUS".  BALANCES is
`ledger-client balance a0 balance a1 ...` once every transfer settled;
AUDITS is `ledger-client audit a0 ...`: each account's history replayed
from scratch.  Checked:
  - the money is conserved: the balances add up to the deposits minus the
    withdrawals the clients were told of, with nothing in transit;
  - no balance is negative;
  - every account's balance is what the acknowledged operations make it
    (a transfer to a "ghost" account, never opened, comes back): none was
    applied twice, none lost;
  - each history holds exactly the events of those operations, each once
    (causes: the command ids), and nothing of a refused one;
  - the replay from scratch gives the balance and version that the ledger,
    loading from its latest snapshot, answers.
Prints one summary line; exits 1 with the first problems found.
"""
import re
import sys
from collections import defaultdict


def main():
    if len(sys.argv) < 6:
        print(__doc__, file=sys.stderr)
        return 2
    n, seed = int(sys.argv[1]), int(sys.argv[2])
    balances_file, audits_file, logs = sys.argv[3], sys.argv[4], sys.argv[5:]
    accounts = ["a%d" % k for k in range(n)]
    problems = []

    expected = {a: seed for a in accounts}
    causes = defaultdict(list)  # the events each account must have
    for k, a in enumerate(accounts):
        causes[a].append("seed-%d" % (k + 1))
    deposits = withdrawals = transfers = returned = refused = 0
    for log in logs:
        for line in open(log):
            cid, kind, acct, to, amount, status = line.split()
            amount = int(amount)
            if status != "OK":
                if status != "FAILED_PRECONDITION":
                    problems.append("%s ended %s" % (cid, status))
                refused += 1
                continue
            if kind == "deposit":
                expected[acct] += amount
                deposits += amount
                causes[acct].append(cid)
            elif kind == "withdraw":
                expected[acct] -= amount
                withdrawals += amount
                causes[acct].append(cid)
            elif kind == "transfer":
                transfers += 1
                causes[acct] += [cid, cid + "/settle"]
                if to.startswith("ghost"):
                    returned += 1  # sent, then given back
                else:
                    expected[acct] -= amount
                    expected[to] += amount
                    causes[to].append(cid + "/credit")

    got = {}
    for line in open(balances_file):
        m = re.match(r"OK (\S+) (-?\d+) (\d+)( in-transit (\d+))?$", line)
        if not m:
            problems.append("balance line: " + line.strip())
            continue
        got[m.group(1)] = (int(m.group(2)), int(m.group(3)),
                           int(m.group(5) or 0))

    replayed, history = {}, defaultdict(list)
    current = None
    for line in open(audits_file):
        m = re.match(r"audit (\S+)$", line)
        if m:
            current = m.group(1)
            continue
        m = re.match(r"v(\d+) .* cause=(\S+) correlation=(\S+)$", line)
        if m:
            history[current].append((int(m.group(1)), m.group(2)))
            continue
        m = re.match(r"replayed (\S+): balance=(-?\d+) in-transit=(\d+) "
                     r"version=(\d+)$", line)
        if m:
            replayed[m.group(1)] = (int(m.group(2)), int(m.group(4)),
                                    int(m.group(3)))
            continue
        problems.append("audit line: " + line.strip())

    total = sum(g[0] for g in got.values())
    if total != seed * n + deposits - withdrawals:
        problems.append("money not conserved: balances add up to %d, "
                        "deposits minus withdrawals to %d"
                        % (total, seed * n + deposits - withdrawals))
    for a in accounts:
        if a not in got:
            problems.append("no balance for " + a)
            continue
        balance, version, transit = got[a]
        if balance < 0:
            problems.append("%s is negative: %d" % (a, balance))
        if transit:
            problems.append("%s still has %d in transit" % (a, transit))
        if balance != expected[a]:
            problems.append("%s has %d, the acknowledged operations make %d"
                            % (a, balance, expected[a]))
        if replayed.get(a) != got[a]:
            problems.append("%s: replay from scratch gives %s, the ledger "
                            "(from its snapshot) %s"
                            % (a, replayed.get(a), got[a]))
        versions = [v for v, _ in history[a]]
        if versions != list(range(1, len(versions) + 1)):
            problems.append("%s: history versions are not 1..N" % a)
        seen = [c for _, c in history[a]]
        dup = sorted({c for c in seen if seen.count(c) > 1})
        if dup:
            problems.append("%s: commands applied twice: %s" % (a, dup[:5]))
        if sorted(seen) != sorted(causes[a]):
            extra = sorted(set(seen) - set(causes[a]))
            missing = sorted(set(causes[a]) - set(seen))
            problems.append("%s: history and acknowledged operations differ:"
                            " extra %s, missing %s" % (a, extra[:5],
                                                        missing[:5]))
    if problems:
        for p in problems[:20]:
            print("ledger_check: " + p)
        return 1
    print("balances=%d (deposits %d, withdrawals %d) transfers=%d "
          "returned=%d refused=%d events=%d"
          % (total, deposits, withdrawals, transfers, returned, refused,
             sum(len(h) for h in history.values())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
