"""quorum(): decides on the threshold, counts votes with accept=, survives failures,
stopped agents and timeouts; the caller's argument errors are raised, not votes."""

from __future__ import annotations

import anyio
import pytest

from capsys import Agent, Iso, Tag, behaviour, iso
from capsys.errors import CapabilityUsageError, MovedError, NotSendableError
from runtime import Runtime
from runtime.primitives import majority, quorum, supermajority

pytestmark = pytest.mark.anyio


class Voter(Agent):
    def __init__(self, vote: bool, delay: float = 0.0, fail: bool = False) -> None:
        self.vote_value = vote
        self.delay = delay
        self.fail = fail
        self.asked = 0

    @behaviour
    async def vote(self, proposal: str) -> bool:
        self.asked += 1
        if self.delay:
            await anyio.sleep(self.delay)
        if self.fail:
            raise RuntimeError(f"voter cannot judge {proposal}")
        return self.vote_value

    @behaviour
    def times_asked(self) -> int:
        return self.asked


def test_thresholds() -> None:
    assert [majority(n) for n in (1, 2, 3, 4, 10)] == [1, 2, 2, 3, 6]
    assert [supermajority(n) for n in (3, 9, 10)] == [2, 6, 7]
    for bad in (-1, 0):
        with pytest.raises(ValueError, match="at least one agent"):
            majority(bad)
    with pytest.raises(TypeError, match="an int"):
        majority(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fraction <= 1"):
        supermajority(9, 1.5)


async def test_bad_options_are_refused_before_any_ask() -> None:
    async with Runtime() as rt:
        voters = [rt.spawn(Voter, True) for _ in range(3)]
        with pytest.raises(TypeError, match="accept= must be a predicate"):
            await quorum(voters, 2, Voter.vote, "p", accept=5)  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="timeout must be a number of seconds"):
            await quorum(voters, 2, Voter.vote, "p", timeout="1")  # type: ignore[call-arg]
        with pytest.raises(ValueError, match="timeout must not be NaN"):  # as Tag.ask
            await quorum(voters, 2, Voter.vote, "p", timeout=float("nan"))
        with pytest.raises(TypeError, match="takes Tags of agents, got 1"):
            await quorum([1, 2], 1, Voter.vote, "p")  # type: ignore[list-item]
        assert [await v.ask(Voter.times_asked) for v in voters] == [0, 0, 0]


async def test_no_time_left_asks_nobody() -> None:
    """As Tag.ask with a timeout of 0 or less sends nothing, neither does quorum."""
    async with Runtime() as rt:
        voters = [rt.spawn(Voter, True) for _ in range(3)]
        for timeout in (0, -1.5):
            result = await quorum(voters, 2, Voter.vote, "p", timeout=timeout)
            assert result.timed_out and not result.reached
            assert result.missing == tuple(voters) and result.accepted == ()
        await anyio.sleep(0.05)
        assert [await v.ask(Voter.times_asked) for v in voters] == [0, 0, 0]


async def test_every_reply_counts_without_accept() -> None:
    async with Runtime() as rt:
        voters = [rt.spawn(Voter, i % 2 == 0) for i in range(5)]
        result = await quorum(voters, 5, Voter.vote, "p1")
        assert result.reached and bool(result)
        assert sorted(result.values) == [False, False, True, True, True]
        assert {tag for tag, _ in result.accepted} == set(voters)
        assert not result.timed_out and result.missing == ()


async def test_accept_counts_votes_and_fails_fast_when_out_of_reach() -> None:
    async with Runtime() as rt:
        voters = [rt.spawn(Voter, i < 3) for i in range(10)]  # 3 yes, 7 no
        result = await quorum(voters, majority(10), Voter.vote, "p2", accept=bool)
        assert not result.reached
        assert len(result.accepted) == 3 or len(result.rejected) >= 5
        assert len(result.rejected) + len(result.failures) >= 10 - majority(10) + 1


async def test_failures_and_stopped_agents_count_as_no() -> None:
    async with Runtime() as rt:
        good = [rt.spawn(Voter, True) for _ in range(3)]
        bad = rt.spawn(Voter, True, 0.0, True)
        gone = rt.spawn(Voter, True)
        await rt.stop(gone)
        result = await quorum([*good, bad, gone], 3, Voter.vote, "p3")
        assert result.reached
        assert {tag for tag, _ in result.failures} <= {bad, gone}
        everyone = await quorum([*good, bad, gone], 5, Voter.vote, "p4")
        assert not everyone.reached  # decided at the first failure: 5 of 5 is out of reach
        assert len(everyone.failures) >= 1 and {t for t, _ in everyone.failures} <= {bad, gone}
        assert all(isinstance(err, Exception) for _, err in everyone.failures)


async def test_decides_early_and_timeout_reports_missing() -> None:
    async with Runtime() as rt:
        fast = [rt.spawn(Voter, True) for _ in range(2)]
        slow = rt.spawn(Voter, True, 1.0)
        early = await quorum([*fast, slow], 2, Voter.vote, "p5", timeout=0.9)
        assert early.reached and not early.timed_out
        assert early.missing == (slow,)
        late = await quorum([*fast, slow], 3, Voter.vote, "p6", timeout=0.2)
        assert late.timed_out and not late.reached
        assert late.missing == (slow,)
        # the slow voter was not harmed by the cancelled asks: it still answers
        assert await slow.ask(Voter.times_asked) == 2


async def test_bad_threshold_is_a_clear_error() -> None:
    async with Runtime() as rt:
        voters = [rt.spawn(Voter, True) for _ in range(2)]
        with pytest.raises(CapabilityUsageError, match="between 1 and the number of agents"):
            await quorum(voters, 3, Voter.vote, "p7")
        for bad in (1.5, None, True):
            with pytest.raises(CapabilityUsageError, match=r"must be an int .*majority\(n\)"):
                await quorum(voters, bad, Voter.vote, "p7")  # type: ignore[arg-type]


async def test_a_raising_accept_predicate_is_raised_as_itself_once() -> None:
    # the caller's bug, not a voter's failure: a plain ValueError (not an ExceptionGroup
    # of one per reply checked so far, whose size differed between backends)
    def strict(reply: bool) -> bool:
        raise ValueError("bad predicate")

    async with Runtime() as rt:
        voters = [rt.spawn(Voter, True) for _ in range(5)]
        with pytest.raises(ValueError, match="bad predicate"):
            await quorum(voters, 3, Voter.vote, "p8", accept=strict, timeout=5)
        assert [await v.ask(Voter.times_asked) for v in voters] == [1] * 5  # unharmed


class Judge(Agent):
    """Counts what it was asked, to show that a refused quorum asked nobody."""

    def __init__(self) -> None:
        self.asked = 0

    @behaviour
    def weigh(self, item: object) -> bool:
        self.asked += 1
        return True

    @behaviour
    def weigh_iso(self, handle: Iso[list[int]]) -> int:
        self.asked += 1
        return len(handle.take())

    @behaviour
    def weigh_pair(self, pair: tuple[Iso[list[int]], int]) -> int:
        self.asked += 1
        return len(pair[0].take()) + pair[1]

    @behaviour
    def reply_list(self) -> list[int]:
        return [1]

    @behaviour
    def times_asked(self) -> int:
        return self.asked

    def _private(self) -> bool:
        return True


async def _asked(judges: list[Tag[Judge]]) -> list[int]:
    return [await j.ask(Judge.times_asked) for j in judges]


async def test_unsendable_arguments_raise_instead_of_counting_as_no() -> None:
    async with Runtime() as rt:
        judges = [rt.spawn(Judge) for _ in range(3)]
        with pytest.raises(NotSendableError, match=r"argument 1 of quorum\(Judge.weigh\)"):
            await quorum(judges, 2, Judge.weigh, [1, 2])
        assert await _asked(judges) == [0, 0, 0]


async def test_debug_mode_checks_arguments_deeply() -> None:
    async with Runtime(debug=True) as rt:
        judges = [rt.spawn(Judge) for _ in range(3)]
        with pytest.raises(NotSendableError):
            await quorum(judges, 2, Judge.weigh, ([1],))
        assert await _asked(judges) == [0, 0, 0]


async def test_an_iso_argument_goes_to_a_single_agent_only() -> None:
    async with Runtime() as rt:
        judges = [rt.spawn(Judge) for _ in range(3)]
        handle = iso([1, 2])
        with pytest.raises(NotSendableError, match="one agent only, not to 3"):
            await quorum(judges, 2, Judge.weigh_iso, handle)
        assert handle.take() == [1, 2] and await _asked(judges) == [0, 0, 0]
        inside = iso([6])
        with pytest.raises(NotSendableError, match="one agent only, not to 3"):
            await quorum(judges, 2, Judge.weigh_pair, (inside, 1))
        assert inside.take() == [6]  # refused before anything was moved
        one = await quorum(judges[:1], 1, Judge.weigh_iso, iso([3, 4, 5]))
        assert one.reached and one.values == (3,)
        with pytest.raises(MovedError):
            await quorum(judges[:1], 1, Judge.weigh_iso, handle)


async def test_a_method_that_is_not_a_behaviour_is_an_error() -> None:
    async with Runtime() as rt:
        judges = [rt.spawn(Judge) for _ in range(2)]
        with pytest.raises(CapabilityUsageError, match="not a behaviour"):
            await quorum(judges, 1, Judge._private)


async def test_what_the_agents_ask_raised_is_still_a_failure() -> None:
    async with Runtime() as rt:
        judges = [rt.spawn(Judge) for _ in range(3)]
        result = await quorum(judges, 3, Judge.reply_list)  # the reply cannot cross
        assert not result.reached
        assert result.failures and all(
            isinstance(error, NotSendableError) for _, error in result.failures
        )
