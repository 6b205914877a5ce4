#!/usr/bin/env python3
"""Crash consistency of the library and the KV snapshots: `kill -9` at random moments during each
write path (ingest, with resume; OCR of scanned PDFs, with resume; annotation import; ask, which
saves a session; a whole-documents ask with a model, which writes a KV snapshot), then everything
must still be whole: SQLite's integrity check, foreign keys and the full-text index agree with the
pages, every document has all its pages (none half-ingested), a mailbox marked complete has all its
messages, no recognised page is kept for a document already written, an annotation import is all or
nothing, the application itself opens the library and counts the same, and the snapshot directory
holds only whole snapshots that give the clean run's answer. At the end resumed ingests (text and
OCR) must give the same documents and pages as clean runs, and the check must refuse two damaged
copies (a missing page, overwritten bytes) and a truncated snapshot: a check that cannot fail
proves nothing.

    crash_consistency.py NEEDLEWORK --model M.gguf [--seconds S] [--seed N] [--keep DIR]

CTest runs it for a few seconds (tests/CMakeLists.txt); run it by hand for minutes to try more
moments (`--seconds 600`). The scanned PDFs are made here: a text PDF drawn by hand, rendered by
Poppler's pdftoppm, its pixels wrapped as an image-only PDF. Exit 0 when every check held; 1 with
the failed check and the seed to replay it.
"""

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import zlib

ANNOTATIONS = 400  # in the import file, all distinct: an interrupted import leaves 0 or all


class Inconsistent(Exception):
    pass


def write_corpus(folder, rng):
    """Text files, Markdown and a mailbox: enough work that a kill lands inside an ingest."""
    os.makedirs(folder)
    words = ["clause", "indemnity", "warranty", "termination", "liability", "schedule", "notice",
             "party", "payment", "governing", "law", "breach", "remedy", "assignment", "audit"]
    for i in range(120):
        paragraphs = []
        for p in range(3 + i % 5):
            sentence = " ".join(rng.choice(words) for _ in range(40 + (i * 7 + p) % 60))
            paragraphs.append(f"Section {p + 1} of file {i}: marker{i} {sentence}.")
        suffix = ".md" if i % 10 == 0 else ".txt"
        with open(os.path.join(folder, f"doc{i:03d}{suffix}"), "w") as f:
            f.write("\n\n".join(paragraphs) + "\n")
    with open(os.path.join(folder, "mail.mbox"), "w") as f:
        for m in range(40):
            body = " ".join(rng.choice(words) for _ in range(80))
            f.write(f"From sender{m}@example.org Mon Dec  7 10:{m:02d}:00 2026\n"
                    f"From: Sender {m} <sender{m}@example.org>\nTo: team@example.org\n"
                    f"Subject: message {m}\nMessage-ID: <m{m}@example.org>\n"
                    f"Date: Mon, 7 Dec 2026 10:{m:02d}:00 +0000\n\nmailmarker{m} {body}\n\n")


def write_pdf(path, objects):
    """A PDF of `objects` (bytes, numbered from 1; the first is the catalog), with its xref table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    with open(path, "wb") as f:
        f.write(out)


def stream(dictionary, data):
    return b"<< %s /Length %d >>\nstream\n" % (dictionary, len(data)) + data + b"\nendstream"


def pdf_with_pages(path, contents, resources, extra=()):
    """Letter pages, one per content stream, sharing `resources`; `extra` objects follow it
    (numbered from first_extra_object(len(contents)))."""
    n = len(contents)
    kids = b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(n))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, n)]
    for i, content in enumerate(contents):
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources %d 0 R /Contents %d 0 R >>"
                       % (3 + 2 * n, 4 + 2 * i))
        objects.append(content)
    objects.append(resources)
    write_pdf(path, objects + list(extra))


def first_extra_object(pages):
    return 3 + 2 * pages + 1


def write_scans(folder, work, rng):
    """Image-only PDFs of known text: what a scanner gives, so every page goes through OCR."""
    os.makedirs(folder)
    words = ["invoice", "shipment", "customs", "contract", "harbour", "delivery", "pallet", "freight",
             "insurance", "warehouse", "carrier", "manifest", "tariff", "consignee", "quarantine"]
    for d in range(2):
        pages = []
        for p in range(2):
            lines = [f"Scan {d} page {p + 1} scanmarker{d}x{p}"]
            lines += [" ".join(rng.choice(words) for _ in range(7)) for _ in range(22)]
            text = b"".join(b"(%s) Tj T* " % line.encode() for line in lines)
            pages.append(stream(b"", b"BT /F1 14 Tf 18 TL 72 740 Td " + text + b"ET"))
        text_pdf = os.path.join(work, f"text{d}.pdf")
        pdf_with_pages(text_pdf, pages, b"<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>")
        prefix = os.path.join(work, f"raster{d}")
        subprocess.run(["pdftoppm", "-r", "150", "-gray", text_pdf, prefix], check=True)
        contents, images = [], []
        for i, name in enumerate(sorted(f for f in os.listdir(work) if f.startswith(f"raster{d}-"))):
            with open(os.path.join(work, name), "rb") as f:
                magic, width, height, maxval, pixels = f.read().split(maxsplit=4)
            assert magic == b"P5" and maxval == b"255", name
            images.append(stream(b"/Type /XObject /Subtype /Image /Width %s /Height %s /ColorSpace /DeviceGray "
                                 b"/BitsPerComponent 8 /Filter /FlateDecode" % (width, height), zlib.compress(pixels)))
            contents.append(stream(b"", b"q 612 0 0 792 0 0 cm /Im%d Do Q" % i))
        first = first_extra_object(len(contents))
        names = b" ".join(b"/Im%d %d 0 R" % (i, first + i) for i in range(len(images)))
        pdf_with_pages(os.path.join(folder, f"scan{d}.pdf"), contents, b"<< /XObject << %s >> >>" % names, images)


def write_whole_corpus(folder, rng):
    """A few short notes: small enough that a whole-documents question fits the model's context."""
    os.makedirs(folder)
    names = ["Anna", "Boris", "Chen", "Dara"]
    for i, name in enumerate(names):
        with open(os.path.join(folder, f"note{i}.txt"), "w") as f:
            f.write(f"{name} keeps the key to room {rng.randrange(100, 999)}. "
                    f"The meeting on day {i + 1} was about the harbour contract.\n")


class Runner:
    def __init__(self, exe, work):
        self.exe = exe
        self.env = dict(os.environ, HOME=work, XDG_DATA_HOME="", XDG_CACHE_HOME="", XDG_CONFIG_HOME="")
        for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "XDG_RUNTIME_DIR"):
            self.env.pop(name, None)

    def run(self, *args):
        p = subprocess.run([self.exe, *args], env=self.env, capture_output=True, text=True)
        if p.returncode != 0:
            raise Inconsistent(f"needlework {' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")
        return p.stdout

    def timed(self, *args):
        start = time.monotonic()
        self.run(*args)
        return time.monotonic() - start

    def kill_during(self, delay, *args):
        """Starts the command and kills it with SIGKILL after `delay` seconds; True when it was
        still running then (a kill that landed), False when it had finished."""
        p = subprocess.Popen([self.exe, *args], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            p.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
            p.stderr.close()
            return True
        err = p.stderr.read().decode(errors="replace").strip()
        p.stderr.close()
        if p.returncode != 0:
            raise Inconsistent(f"needlework {' '.join(args)}: exit {p.returncode} without a kill: {err}")
        return False


def rows(db, sql):
    return db.execute(sql).fetchall()


def check(runner, path, annotations_allowed=None):
    """Raises Inconsistent with the first rule the library at `path` breaks."""
    if not os.path.exists(path):
        return  # killed before the library was made (it is made aside and linked into place whole)
    db = sqlite3.connect(f"file:{path}?mode=rw", uri=True)
    try:
        result = rows(db, "PRAGMA integrity_check")
        if result != [("ok",)]:
            raise Inconsistent(f"integrity_check: {result[:5]}")
        if rows(db, "PRAGMA foreign_key_check"):
            raise Inconsistent(f"foreign_key_check: {rows(db, 'PRAGMA foreign_key_check')[:5]}")
        try:
            db.execute("INSERT INTO pages_fts(pages_fts) VALUES ('integrity-check')")
        except sqlite3.DatabaseError as e:
            raise Inconsistent(f"the full-text index disagrees with the pages: {e}")
        half = rows(db, """SELECT d.id, d.page_count, count(p.id), coalesce(max(p.number), 0)
                           FROM documents d LEFT JOIN pages p ON p.document_id = d.id
                           GROUP BY d.id HAVING d.page_count != count(p.id) OR d.page_count != coalesce(max(p.number), 0)""")
        if half:
            raise Inconsistent(f"documents without all their pages (id, page_count, pages, last): {half[:5]}")
        mailboxes = rows(db, """SELECT c.sha256, c.documents, (SELECT count(*) FROM documents d
                                WHERE d.file_sha256 = c.sha256 AND d.parent_id IS NULL) AS n
                                FROM container_files c WHERE c.documents != n""")
        if mailboxes:
            raise Inconsistent(f"mailboxes marked complete without all their messages: {mailboxes[:5]}")
        turns = rows(db, """SELECT session_id, count(*), min(idx), max(idx) FROM session_turns GROUP BY session_id
                            HAVING max(idx) - min(idx) + 1 != count(*)""")
        if turns:
            raise Inconsistent(f"sessions with gaps in their turns: {turns[:5]}")
        empty = rows(db, "SELECT id, title FROM sessions WHERE id NOT IN (SELECT session_id FROM session_turns)")
        if empty:
            raise Inconsistent(f"sessions without their first question and answer: {empty[:5]}")
        kept = rows(db, """SELECT o.file_sha256, o.number FROM ocr_pages o WHERE EXISTS (SELECT 1 FROM documents d
                           WHERE d.sha256 = o.file_sha256 OR d.file_sha256 = o.file_sha256)""")
        if kept:
            raise Inconsistent(f"recognised pages kept for documents already written (file, page): {kept[:5]}")
        count = rows(db, "SELECT count(*) FROM annotations")[0][0]
        if annotations_allowed is not None and count not in annotations_allowed:
            raise Inconsistent(f"{count} annotations: an import is all or nothing ({sorted(annotations_allowed)})")
        documents = rows(db, "SELECT count(*) FROM documents")[0][0]
        pages = rows(db, "SELECT count(*) FROM pages")[0][0]
    finally:
        db.close()
    # The application's own view: it opens the library, lists what SQL counts, and searches.
    listing = json.loads(runner.run("library", "--json", "--db", path))
    if len(listing["documents"]) != documents or listing["pages"] != pages:
        raise Inconsistent(f"needlework library lists {len(listing['documents'])} documents and {listing['pages']} "
                           f"pages; the tables hold {documents} and {pages}")
    runner.run("search", "indemnity", "--db", path)


def ask_whole(model, db):
    return ["ask", "Who keeps the key to room 4?", "--model", model, "--mode", "whole", "--max-tokens", "12",
            "--db", db, "--json"]


def check_snapshots(runner, model, db, answer):
    """After a kill during a whole-documents ask: every snapshot file is whole (a writer renames its
    temporary file into place only when it is complete), a snapshot there is loaded rather than
    rebuilt, and the answer is the clean run's."""
    listing = json.loads(runner.run("kv", "snapshots", "--json"))
    damaged = [s for s in listing["snapshots"] if "problem" in s]
    if damaged:
        raise Inconsistent(f"snapshot files that are not whole: {damaged[:3]}")
    report = json.loads(runner.run(*ask_whole(model, db)))
    context = report["model"].get("context", {})
    expected = "snapshot" if listing["snapshots"] else "prefill"
    if context.get("source") != expected or context.get("problem"):
        raise Inconsistent(f"with {len(listing['snapshots'])} snapshots on disk the context came from "
                           f"{context}: expected '{expected}'")
    if report["answer"] != answer:
        raise Inconsistent(f"the answer after the kill was {report['answer']!r}, the clean run's {answer!r}")
    check(runner, db)


def contents(path):
    """What an ingest produced, independent of ids and times: each document's identity and pages."""
    db = sqlite3.connect(path)
    try:
        return rows(db, """SELECT d.sha256, d.part, d.kind, d.page_count, p.number, p.text
                           FROM documents d JOIN pages p ON p.document_id = d.id ORDER BY d.sha256, d.part, p.number""")
    finally:
        db.close()


def remove_library(path):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)


def copy_library(source, target):
    remove_library(target)
    shutil.copyfile(source, target)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("needlework")
    parser.add_argument("--model", required=True, help="a small GGUF model for whole-documents asks")
    parser.add_argument("--seconds", type=float, default=4.0, help="time for kill rounds (default 4)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    rng = random.Random(seed)
    work = args.keep or tempfile.mkdtemp(prefix="nw-crash-")
    if args.keep:
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
    runner = Runner(os.path.abspath(args.needlework), work)
    model = os.path.abspath(args.model)
    corpus, scans, notes = (os.path.join(work, name) for name in ("corpus", "scans", "notes"))
    write_corpus(corpus, rng)
    write_scans(scans, work, rng)
    write_whole_corpus(notes, rng)
    clean, db = os.path.join(work, "clean.db"), os.path.join(work, "library.db")
    clean_ocr, db_ocr = os.path.join(work, "clean-ocr.db"), os.path.join(work, "ocr.db")
    kills = {"ingest": 0, "ocr": 0, "annotations import": 0, "ask": 0, "snapshot write": 0}
    rounds = {name: 0 for name in kills}
    what = "the clean run"
    try:
        # The clean runs: the reference contents and how long each write path takes. Kills land
        # between half the start-up time (what --version takes) and the end of a run.
        t_start = runner.timed("--version")
        t_ingest = runner.timed("ingest", corpus, "--db", clean)
        check(runner, clean)
        t_ocr = runner.timed("ingest", scans, "--db", clean_ocr)
        check(runner, clean_ocr)
        con = sqlite3.connect(clean_ocr)
        recognised = rows(con, "SELECT count(*) FROM pages WHERE text LIKE '%scanmarker%'")[0][0]
        con.close()
        if recognised != 4:
            raise Inconsistent(f"OCR found the marker on {recognised} of the 4 scanned pages")
        con = sqlite3.connect(clean)
        documents = rows(con, "SELECT sha256 FROM documents ORDER BY id")
        con.close()
        records = [{"document_sha256": documents[i % len(documents)][0], "page": 1, "kind": "note",
                    "note": f"note {i} of the crash test"} for i in range(ANNOTATIONS)]
        import_file = os.path.join(work, "annotations.json")
        with open(import_file, "w") as f:
            json.dump(records, f)
        scratch = os.path.join(work, "scratch.db")
        copy_library(clean, scratch)
        t_import = runner.timed("annotations", "import", import_file, "--db", scratch)
        t_ask = runner.timed("ask", "which clause covers indemnity?", "--db", scratch)
        asked = os.path.join(work, "asked.db")
        copy_library(clean, asked)
        whole = os.path.join(work, "whole.db")
        runner.run("ingest", notes, "--db", whole)
        snapshots = json.loads(runner.run("kv", "snapshots", "--json"))["directory"]
        start = time.monotonic()
        answer = json.loads(runner.run(*ask_whole(model, whole)))["answer"]
        t_snapshot = time.monotonic() - start
        check_snapshots(runner, model, whole, answer)  # the snapshot just written is loaded

        deadline = time.monotonic() + args.seconds
        fresh = {"ingest": True, "ocr": True}
        while time.monotonic() < deadline or min(rounds.values()) == 0:
            kind = min(rounds, key=lambda k: (rounds[k], rng.random()))
            rounds[kind] += 1
            what = f"{kind} round {rounds[kind]}"
            if kind in ("ingest", "ocr"):
                # Half the rounds start a new library, half resume the killed one.
                folder, library, took = (corpus, db, t_ingest) if kind == "ingest" else (scans, db_ocr, t_ocr)
                if fresh[kind]:
                    remove_library(library)
                kills[kind] += runner.kill_during(rng.uniform(t_start / 2, took * 1.1), "ingest", folder, "--db", library)
                check(runner, library)
                fresh[kind] = not fresh[kind]
            elif kind == "annotations import":
                copy_library(clean, scratch)
                kills[kind] += runner.kill_during(rng.uniform(t_start / 2, t_import * 1.2), "annotations", "import", import_file,
                                                  "--db", scratch)
                check(runner, scratch, annotations_allowed={0, ANNOTATIONS})
            elif kind == "ask":
                kills[kind] += runner.kill_during(rng.uniform(t_start / 2, t_ask * 1.2), "ask", "which clause covers indemnity?",
                                                  "--db", asked)
                check(runner, asked)
            else:
                # Most rounds write the snapshot anew; the others kill a run that loads it.
                if rng.random() < 0.75:
                    shutil.rmtree(snapshots, ignore_errors=True)
                kills[kind] += runner.kill_during(rng.uniform(t_start / 2, t_snapshot * 1.1), *ask_whole(model, whole))
                check_snapshots(runner, model, whole, answer)

        for kind, folder, library, reference in (("ingest", corpus, db, clean), ("ocr", scans, db_ocr, clean_ocr)):
            what = f"the resumed {kind}"
            runner.run("ingest", folder, "--db", library)
            check(runner, library)
            if contents(library) != contents(reference):
                raise Inconsistent(f"the resumed library ({kind}) holds other documents or pages than a clean run")

        # The check itself must fail on a damaged library.
        what = "the check on damaged copies"
        broken = os.path.join(work, "broken.db")
        copy_library(clean, broken)
        con = sqlite3.connect(broken)
        con.execute("DELETE FROM pages WHERE id = (SELECT max(id) FROM pages)")
        con.commit()
        con.close()
        damages = {"a page deleted": broken}
        overwritten = os.path.join(work, "overwritten.db")
        copy_library(clean, overwritten)
        size = os.path.getsize(overwritten)
        with open(overwritten, "r+b") as f:
            f.seek(size // 2 // 4096 * 4096)
            f.write(bytes(rng.randrange(256) for _ in range(4096)))
        damages["a page of the file overwritten"] = overwritten
        for damage, path in damages.items():
            try:
                check(runner, path)
            except (Inconsistent, sqlite3.DatabaseError):
                continue
            raise Inconsistent(f"the check passed a library with {damage}")
        # And on a snapshot cut short (as a writer without the rename would leave it).
        runner.run(*ask_whole(model, whole))
        for name in os.listdir(snapshots):
            if name.endswith(".nwkv"):
                with open(os.path.join(snapshots, name), "r+b") as f:
                    f.truncate(os.path.getsize(f.name) - 100)
        try:
            check_snapshots(runner, model, whole, answer)
        except Inconsistent:
            pass
        else:
            raise Inconsistent("the check passed a truncated snapshot")
    except (Inconsistent, sqlite3.DatabaseError) as e:
        print(f"FAIL: {what}: {e}\n  replay: {sys.argv[0]} {args.needlework} --model {args.model} --seed {seed} "
              "--keep DIR", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    summary = ", ".join(f"{kind} {kills[kind]} of {rounds[kind]}" for kind in kills)
    print(f"ok: library and KV snapshots consistent after kill -9 ({summary} rounds killed mid-run; seed {seed}); "
          f"resumed ingests (text, OCR) equal clean runs; damaged copies and snapshots refused")
    return 0


if __name__ == "__main__":
    sys.exit(main())
