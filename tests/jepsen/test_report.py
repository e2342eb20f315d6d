#!/usr/bin/env python3
"""tests/jepsen/test_report.py: the report-side checkers of jepsen/report
against hand-made inputs. ready.py can fail a run on its own (it is how
the NO_INIT_BARRIER canary is caught), so like pilot-check it is held to
valid and invalid cases; fault_windows and scan_logs decide the fault
bands and the "crash in a node log" verdict. Standard library only."""
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "jepsen", "report"))
import agree  # noqa: E402
import ready  # noqa: E402
import report  # noqa: E402

S = 10**9


def sample(t, node, state, term, commit, last, ok_ready=False):
    return {"time": t, "node": node, "state": state, "term": term, "commit_index": commit,
            "applied_index": commit, "last_index": last, "ready": ok_ready}


class ReadyBeforeCaughtUp(unittest.TestCase):
    def test_ready_leader_below_its_election_log_is_invalid(self):
        mon = [sample(1 * S, "n2", "follower", 3, 120, 133),
               sample(2 * S, "n2", "leader", 4, 130, 140, ok_ready=True)]
        bad, n = ready.check(mon)
        self.assertEqual(n, 1)
        self.assertEqual(len(bad), 1)
        self.assertEqual((bad[0]["node"], bad[0]["term"]), ("n2", 4))
        self.assertEqual((bad[0]["commit_index"], bad[0]["last_index_before"]), (130, 133))
        self.assertEqual(ready.verdict(mon)["verdict"], "invalid")

    def test_ready_leader_past_its_election_log_is_valid(self):
        mon = [sample(1 * S, "n2", "follower", 3, 120, 133),
               sample(2 * S, "n2", "leader", 4, 130, 140, ok_ready=False),
               sample(3 * S, "n2", "leader", 4, 133, 140, ok_ready=True)]
        bad, n = ready.check(mon)
        self.assertEqual((bad, n), ([], 1))   # exactly its election log: caught up
        self.assertEqual(ready.verdict(mon)["verdict"], "valid")

    def test_candidate_sample_of_the_same_term_bounds(self):
        mon = [sample(1 * S, "n1", "candidate", 7, 50, 60),
               sample(2 * S, "n1", "leader", 7, 55, 61, ok_ready=True)]
        bad, _ = ready.check(mon)
        self.assertEqual(len(bad), 1)

    def test_older_terms_and_restarts_give_no_bound(self):
        # A follower sample two terms back: entries may have been replaced
        # by the leader in between, so it bounds nothing.
        mon = [sample(1 * S, "n1", "follower", 2, 50, 60),
               sample(2 * S, "n1", "leader", 4, 55, 61, ok_ready=True)]
        self.assertEqual(ready.check(mon), ([], 0))
        # A restart in between may lose unsynced entries.
        mon = [sample(1 * S, "n1", "follower", 3, 50, 60),
               {"time": 2 * S, "node": "n1", "state": "down", "term": 0, "commit_index": 0,
                "applied_index": 0, "last_index": 0, "ready": False},
               sample(3 * S, "n1", "leader", 4, 55, 61, ok_ready=True)]
        self.assertEqual(ready.check(mon), ([], 0))

    def test_samples_without_last_index_are_skipped(self):
        mon = [{"time": 1, "node": "n1", "state": "follower", "term": 3, "commit_index": 1},
               {"time": 2, "node": "n1", "state": "leader", "term": 4, "commit_index": 0,
                "ready": True}]
        self.assertEqual(ready.check(mon), ([], 0))

    def test_other_nodes_do_not_bound_each_other(self):
        mon = [sample(1 * S, "n1", "follower", 3, 120, 200),
               sample(2 * S, "n2", "follower", 3, 120, 125),
               sample(3 * S, "n2", "leader", 4, 126, 130, ok_ready=True)]
        self.assertEqual(ready.check(mon)[0], [])


class FaultWindows(unittest.TestCase):
    def nem(self, t, f, value=None):
        return {"time": t, "type": "info", "process": "nemesis", "f": f, "value": value}

    def test_overlapping_faults_get_one_window_each(self):
        wins = report.fault_windows([self.nem(1, "start-partition", {"kind": "halves"}),
                                     self.nem(2, "start-kill", {"targets": [3]}),
                                     self.nem(5, "stop-kill"),
                                     self.nem(7, "stop-partition")], 100)
        self.assertEqual([(k, a, b) for k, a, b, _ in wins],
                         [("partition", 1, 7), ("kill", 2, 5)])

    def test_heal_all_closes_everything_and_open_faults_run_to_the_end(self):
        wins = report.fault_windows([self.nem(1, "start-pause"), self.nem(2, "start-clock"),
                                     self.nem(4, "heal-all"), self.nem(6, "start-disk")], 50)
        self.assertEqual(sorted((k, a, b) for k, a, b, _ in wins),
                         [("clock", 2, 4), ("disk", 6, 50), ("pause", 1, 4)])


class LogScan(unittest.TestCase):
    def test_crashes_and_sanitizer_files_are_found_and_clean_logs_are_not(self):
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, "nodes", "n1"))
            os.makedirs(os.path.join(d, "nodes", "n2"))
            with open(os.path.join(d, "nodes", "n1", "node.log"), "w") as f:
                f.write("ts=1 level=info event=leader_ready\n")
            self.assertEqual(report.scan_logs(d), [])
            with open(os.path.join(d, "nodes", "n2", "node.log"), "w") as f:
                f.write("ts=1 level=info\n==7==ERROR: AddressSanitizer: heap-use-after-free on 0x6\n")
            open(os.path.join(d, "nodes", "n2", "asan.123"), "w").close()
            kinds = sorted(x["kind"] for x in report.scan_logs(d))
            self.assertEqual(len(kinds), 2)
            self.assertIn("sanitizer", kinds)


class RaftIoCounts(unittest.TestCase):
    def test_shutdown_lines_are_summed_over_nodes_and_lifetimes(self):
        with tempfile.TemporaryDirectory() as d:
            for n, text in (("n1", 'msg="raft closed (2 log truncates, 1 held back behind '
                                   'another barrier)"\nmsg="raft closed (1 log truncates, 0 held '
                                   'back behind another barrier)"\n'),
                            ("n2", "killed: no shutdown line\n")):
                os.makedirs(os.path.join(d, "nodes", n))
                with open(os.path.join(d, "nodes", n, "node.log"), "w") as f:
                    f.write(text)
            self.assertEqual(report.raft_io_counts(d),
                             {"log_truncates": 3, "barriers_held_back": 1})


class RestartAgreement(unittest.TestCase):
    """agree.py decides the restart check."""
    OK = ["n1 follower 4 825 868 0 2 aa", "n2 leader 4 825 868 1 2 aa",
          "n3 follower 4 825 868 0 2 aa"]

    def test_agreement(self):
        self.assertIsNone(agree.disagreement(self.OK, 3))

    def test_a_node_that_did_not_start(self):
        lines = self.OK[:2] + ["n3 down 0 0 0 0 0 -"]
        self.assertEqual(agree.disagreement(lines, 3), "down: n3")

    def test_no_ready_leader_or_two(self):
        self.assertEqual(agree.disagreement([ln.replace(" 1 2 ", " 0 2 ") for ln in self.OK], 3),
                         "0 ready leaders")
        lines = self.OK[:2] + ["n3 leader 4 825 868 1 2 aa"]
        self.assertEqual(agree.disagreement(lines, 3), "2 ready leaders")

    def test_different_hash_or_applied_index(self):
        self.assertIn("differ", agree.disagreement(self.OK[:2] + ["n3 follower 4 825 868 0 2 bb"], 3))
        self.assertIn("differ", agree.disagreement(self.OK[:2] + ["n3 follower 4 824 868 0 2 aa"], 3))

    def test_missing_rows(self):
        self.assertEqual(agree.disagreement(self.OK[:2], 3), "2 of 3 nodes listed")
        self.assertIn("without a state hash",
                      agree.disagreement([ln.rsplit(" ", 1)[0] for ln in self.OK], 3))


class CanaryVerdict(unittest.TestCase):
    """canaries.py --check: the nightly fails unless every canary was
    detected by at least one of its runs."""
    def run_check(self, rows):
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            for r in rows:
                f.write('{"canary":"%s","fault":"%s","workload":"w","run":1,"detected":%s}\n'
                        % (r[0], r[1], "true" if r[2] else "false"))
        try:
            script = os.path.join(os.path.dirname(ready.__file__), "canaries.py")
            return subprocess.run([sys.executable, script, "--check", f.name],
                                  capture_output=True, text=True)
        finally:
            os.unlink(f.name)

    def test_one_detection_per_canary_passes(self):
        p = self.run_check([("A", "kill", True), ("A", "partition", False), ("B", "kill", True)])
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_a_canary_never_detected_fails_and_is_named(self):
        p = self.run_check([("A", "kill", True), ("B", "kill", False), ("B", "pause", False)])
        self.assertEqual(p.returncode, 1)
        self.assertIn("canary B was never detected", p.stderr)
        self.assertNotIn("canary A", p.stderr)

    def test_no_runs_at_all_fails(self):
        self.assertEqual(self.run_check([]).returncode, 1)


if __name__ == "__main__":
    unittest.main()
