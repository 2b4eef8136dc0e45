import re
import unittest

from am_worker import Dependency, Rework, Task, TaskContext, offline_handler

# The offline auditor's "addresses its task" check (src/agents/offline/text.ts keywords), abridged: an
# output must mention one word of 4+ letters of its title or instructions that is not a stopword.
STOPWORDS = set("about after also because from have into just like make more only other should some such than "
                "that their them then there these they this those through under what when where which while "
                "with would your task tasks please give write report".split())


def keywords(text):
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) >= 4 and not w.isdigit() and w not in STOPWORDS]


def task(**changes):
    fields = dict(id="t1", graph_id="g", title="Compare sorting", instructions="Contrast quicksort and mergesort.",
                  kind="work", attempt=1, cycle=1)
    fields.update(changes)
    return Task(**fields)


class OfflineHandlerTest(unittest.TestCase):
    def test_answers_a_work_task_with_one_final_step_that_addresses_it(self):
        steps = []
        result = offline_handler(task(), TaskContext(goal="g", on_step=steps.append))
        self.assertEqual(result.status, "completed")
        self.assertEqual(result.model, "offline")
        self.assertEqual(len(result.history), 1)
        self.assertEqual(result.history[0]["action"], {"type": "final", "answer": result.output})
        self.assertEqual(steps, result.history)
        words = set(re.findall(r"[a-z0-9]+", result.output.lower()))
        self.assertTrue(words & set(keywords("Compare sorting Contrast quicksort and mergesort.")))
        self.assertNotIn("[[BAD", result.output)

    def test_is_deterministic(self):
        context = TaskContext(goal="g", dependencies=[Dependency("a", "alpha")])
        self.assertEqual(offline_handler(task(), context).output, offline_handler(task(), context).output)

    def test_names_the_dependencies_and_the_rework_notes(self):
        context = TaskContext(goal="g", dependencies=[Dependency("a", "alpha")], rework=Rework("say more", "old"))
        output = offline_handler(task(cycle=2), context).output
        self.assertIn("Builds on the outputs of a (5 characters)", output)
        self.assertIn("Reworked in cycle 2 to address the auditor: say more", output)

    def test_repeats_the_markers_as_the_server_offline_worker_does(self):
        bad = offline_handler(task(instructions="Explain caching [[BAD]]"), TaskContext(goal="g")).output
        self.assertIn("[[BAD]]", bad)
        once = task(instructions="Explain caching [[BAD-ONCE]]")
        self.assertIn("[[BAD-ONCE]]", offline_handler(once, TaskContext(goal="g")).output)
        reworked = offline_handler(once, TaskContext(goal="g", rework=Rework("fix it", None))).output
        self.assertNotIn("[[BAD-ONCE]]", reworked)

    def test_combines_the_dependencies_for_the_synthesis_task(self):
        synthesis = task(id="_synthesis", kind="synthesis", title="_synthesis", instructions="")
        context = TaskContext(goal="Compare sorts", dependencies=[Dependency("a", "alpha  out"), Dependency("b", "beta")])
        result = offline_handler(synthesis, context)
        self.assertEqual(
            result.output, "Final answer (offline synthesis) for: Compare sorts\n\n- a: alpha out\n- b: beta"
        )
        self.assertEqual(result.history[0]["action"]["answer"], result.output)


if __name__ == "__main__":
    unittest.main()
