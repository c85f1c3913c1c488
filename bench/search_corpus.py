#!/usr/bin/env python3
"""The search benchmark's database: a million chat messages in a thousand rooms, and its sizes.

`generate` starts the server once on a new file (so that its migrations create the schema) and
stops it, then writes the messages straight into `messages` and `rooms`, as the SQLite store
keeps them, leaving the search index empty: the server's next start indexes them all at once
(`index_kept`), which is what the benchmark times. `sizes` prints how much of a file each part
takes (SQLite's `dbstat`). Both print their results as loadgen does (a line, then `JSON {...}`),
so `run.sh` tabulates them with the rest.

The texts are English-like chat lines drawn from a Zipf vocabulary (a few hundred real words,
then made-up ones to 5,000), seeded, so every run writes the same messages. A few words and a
phrase are planted where the queries of loadgen's `search` scenario expect them: `quokka` in
exactly 5 messages (the rare word), `"code review"` in about 1 % (the phrase). The query words'
counts are printed, by word as generated (the server's stems may count a few more).
"""

import argparse
import bisect
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

# Roughly in order of frequency in chat: function words first, then the work talk of a team.
# Each word is listed once; only `deploy` comes in several forms, for the prefix query.
REAL_WORDS = """
the i to a it is and you that of in we for build on this be with have so but
not are just if can do at was what me my no all it's so get will like there
from think about know one out up yes ok now or an as they need should what's
time there's good thanks would then when how more see test did yeah here by
had were also still today going some fix make let's because again work
really which why who been he she our any back use try change could new
deploy right check branch look sure merge issue main error tomorrow done
still well got review code green red run failing pipeline server just
maybe after before something think let got team
lunch coffee meeting call week monday friday morning afternoon release notes
deployed deploying deployment deploys ticket bug logs config database cache
query request response latency memory cpu disk network timeout retry queue
worker job cron script docs readme tests flaky ci staging production prod
rollback hotfix patch version tag commit push pull diff comment approve
approved ping pong hey hi hello morning night weekend holiday vacation sick
later soon asap please thank thx np lol nice great awesome cool weird odd
broken works working worked fixed fixing failed fails passing passed green
slow fast faster slower big small huge tiny old newer latest first last
next previous other same different whole half most least every each many few
dashboard alert alerts pager oncall incident outage postmortem root cause
graph metric metrics trace traces span spans log line file files folder path
user users customer customers account accounts login password token session
api endpoint route handler client browser page button form input field list
table row column index schema migration backup restore snapshot cluster node
container image docker kubernetes pod service services load balancer proxy
certificate domain dns ip port socket thread lock mutex race deadlock leak
heap stack frame function method class struct enum trait module crate package
dependency upgrade downgrade bump pin lockfile build cargo rust python node
typescript javascript css html sql json yaml toml markdown regex shell bash
laptop monitor keyboard desk office remote home train bus bike rain snow sun
pizza salad sandwich tea water cake birthday party drinks dinner breakfast
""".split()

# Words the generator plants and the queries look for; kept out of the vocabulary above.
RARE_WORD = "quokka"
RARE_COUNT = 5
PHRASE = ("code", "review")
PHRASE_SHARE = 0.01

EMOJI = ["👍", "🚀", "😅", "🎉", "🙏", "👀"]
ENDINGS = ["", "", "", ".", ".", "?", "!", " :)", "..."]

VOCABULARY_SIZE = 5_000
ZIPF_EXPONENT = 1.0


def vocabulary(rng):
    """The real words (deduplicated, in order), then made-up ones to `VOCABULARY_SIZE`."""
    words = list(dict.fromkeys(REAL_WORDS))
    taken = set(words) | {RARE_WORD}
    onsets = ["b", "br", "d", "f", "g", "gr", "k", "l", "m", "n", "p", "pl", "r", "s", "st",
              "t", "tr", "v", "z", "sh", "ch"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ou", "ee"]
    codas = ["", "n", "r", "l", "s", "t", "x", "nd", "rk", "mp"]
    while len(words) < VOCABULARY_SIZE:
        syllables = rng.choice([2, 2, 3, 3, 4])
        word = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(syllables - 1))
        word += rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas)
        if word not in taken:
            taken.add(word)
            words.append(word)
    return words


def uuid7(ms, rng):
    """A version 7 UUID for the Unix time `ms`, its random bits from `rng`."""
    value = (ms & (2**48 - 1)) << 80
    value |= 0x7 << 76
    value |= rng.getrandbits(12) << 64
    value |= 0b10 << 62
    value |= rng.getrandbits(62)
    return str(uuid.UUID(int=value))


def migrate(server, db):
    """Starts `server` on `db` until it answers, so its migrations run, then stops it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, RUST_LOG="warn")
    process = subprocess.Popen([server, "--addr", f"127.0.0.1:{port}", "--store", f"sqlite:{db}"],
                               env=env)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
                break
            except OSError:
                if process.poll() is not None:
                    sys.exit(f"the server exited with {process.returncode} before answering")
                time.sleep(0.05)
        else:
            sys.exit("the server never answered /health")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def report(label, scenario, fields):
    """A result as loadgen prints it: a line, then the same as `JSON {...}`."""
    line = f"{label:<16} {scenario:<22}" + "".join(f" {k}={v}" for k, v in fields.items())
    print(line)
    print("JSON " + json.dumps({"run": label, "scenario": scenario, **fields}))
    sys.stdout.flush()


def generate(args):
    started = time.monotonic()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(args.db + suffix):
            os.remove(args.db + suffix)
    migrate(args.server, args.db)
    migrated = time.monotonic()

    import sqlite3
    connection = sqlite3.connect(args.db)
    connection.execute("PRAGMA synchronous = OFF")
    for table in ("messages", "rooms", "search_messages"):
        (count,) = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
        if count:
            sys.exit(f"{args.db}: {table} is not empty")

    rng = random.Random(args.seed)
    words = vocabulary(rng)
    weights = list(itertools.accumulate(1 / (rank ** ZIPF_EXPONENT)
                                        for rank in range(1, len(words) + 1)))
    total_weight = weights[-1]
    rooms = [f"room{n:04}" for n in range(args.rooms)]
    count = args.rooms * args.per_room
    # Messages in time order, each room's interleaved with the others', so that each room's
    # `seq` follows its ids and timestamps as the server's would.
    room_of = [n for n in range(args.rooms) for _ in range(args.per_room)]
    rng.shuffle(room_of)
    rare_at = set(rng.sample(range(count), RARE_COUNT))
    senders = [f"{rng.choice(words[100:1000]).capitalize()}{n}" for n in range(2_000)]
    start_ms = args.start * 1000
    step_ms = args.span_days * 86_400_000 // count
    next_seq = [0] * args.rooms
    counted = {word: 0 for word in args.count}
    phrase_count = 0

    def rows():
        nonlocal phrase_count
        ms = start_ms
        for n in range(count):
            ms += rng.randint(1, 2 * step_ms - 1)
            length = 1 + min(40, int(rng.expovariate(1 / 9)))
            line = [words[bisect.bisect_left(weights, rng.random() * total_weight)]
                    for _ in range(length)]
            if rng.random() < PHRASE_SHARE:
                at = rng.randint(0, len(line))
                line[at:at] = PHRASE
                phrase_count += 1
            if n in rare_at:
                line.insert(rng.randint(0, len(line)), RARE_WORD)
            for word in counted.keys() & set(line):
                counted[word] += 1
            if rng.random() < 0.3:
                line[0] = line[0].capitalize()
            if len(line) > 6 and rng.random() < 0.3:
                line[len(line) // 2] += ","
            text = " ".join(line) + rng.choice(ENDINGS)
            if rng.random() < 0.05:
                text += " " + rng.choice(EMOJI)
            room = room_of[n]
            seq = next_seq[room]
            next_seq[room] += 1
            yield (rooms[room], seq, uuid7(ms, rng), rng.choice(senders), text, ms / 1000, 0,
                   None, None)

    with connection:
        connection.executemany(
            "INSERT INTO messages"
            " (room, seq, id, sender, text, timestamp, verified, author, change_json)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows())
        connection.executemany("INSERT INTO rooms (name, total) VALUES (?, ?)",
                               [(room, args.per_room) for room in rooms])
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    fields = {"messages": count, "rooms": args.rooms, "seed": args.seed,
              "migrate_s": round(migrated - started, 2),
              "generate_s": round(time.monotonic() - migrated, 2),
              "file_kib": os.path.getsize(args.db) // 1024,
              "phrase_code_review": phrase_count, f"word_{RARE_WORD}": RARE_COUNT}
    fields.update({f"word_{word}": n for word, n in counted.items()})
    report(args.label, "search-corpus", fields)


def sizes(args):
    """Pages of each table and index, grouped: the log, the search index, the rest."""
    import sqlite3
    connection = sqlite3.connect(args.db)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    (page_size,) = connection.execute("PRAGMA page_size").fetchone()
    parts = connection.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
    (freelist,) = connection.execute("PRAGMA freelist_count").fetchone()
    connection.close()
    # What each name belongs to: the search tables, FTS5's shadow tables (`search_*`) and their
    # indexes; the log's `messages` and its index; everything else (accounts, rooms, schema).
    kib = {"messages": 0, "search_messages": 0, "search_fts": 0, "other": 0}
    for name, size in parts:
        if name.startswith("search_messages") or name == "sqlite_autoindex_search_messages_1":
            kib["search_messages"] += size
        elif name.startswith("search"):
            kib["search_fts"] += size
        elif name.startswith("messages"):
            kib["messages"] += size
        else:
            kib["other"] += size
    fields = {"file_kib": os.path.getsize(args.db) // 1024,
              "freelist_kib": freelist * page_size // 1024}
    fields.update({f"{part}_kib": size // 1024 for part, size in kib.items()})
    index = kib["search_messages"] + kib["search_fts"]
    fields["index_per_log"] = round(index / kib["messages"], 2) if kib["messages"] else None
    report(args.label, args.scenario, fields)
    if args.verbose:
        for name, size in sorted(parts, key=lambda part: -part[1]):
            print(f"  {name:<40} {size // 1024:>10} KiB")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("generate", help="write the messages into a new database")
    make.add_argument("--server", required=True, help="the server binary (runs the migrations)")
    make.add_argument("--db", required=True, help="the file to create (replaced if it exists)")
    make.add_argument("--rooms", type=int, default=1_000)
    make.add_argument("--per-room", type=int, default=1_000)
    make.add_argument("--seed", type=int, default=1)
    make.add_argument("--start", type=int, default=1_788_220_800,
                      help="Unix time of the first message (default 2026-09-01)")
    make.add_argument("--span-days", type=int, default=90)
    make.add_argument("--count", nargs="*", default=["the", "build", "deploy", "code", "review"],
                      help="words whose messages to count")
    make.add_argument("--label", default="ours-sqlite")
    show = commands.add_parser("sizes", help="what the file's parts take on disk")
    show.add_argument("--db", required=True)
    show.add_argument("--label", default="ours-sqlite")
    show.add_argument("--scenario", default="search-size")
    show.add_argument("--verbose", action="store_true", help="every table and index")
    args = parser.parse_args()
    {"generate": generate, "sizes": sizes}[args.command](args)


if __name__ == "__main__":
    main()
