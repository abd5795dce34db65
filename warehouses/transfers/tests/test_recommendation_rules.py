"""The pure rules of network transfer recommendations (issue 13, item 6), without a database: need within the
lead time, surplus beyond a source's own cover, freight, the score and the explanation in words and figures."""

from __future__ import annotations

from decimal import Decimal

from warehouses.transfers import rules
from warehouses.transfers.rules import Lane, SiteStock

D = Decimal
BOS, NYC, ATL = 1, 2, 3
LANE = Lane(transit_days=3, carrier_id=7, per_unit=D("0.35"), per_kg=D("0.10"), currency="USD")


def _site(warehouse_id: int, code: str, **figures: object) -> SiteStock:
    return SiteStock(warehouse_id=warehouse_id, code=code, **{k: D(str(v)) for k, v in figures.items()})


def test_a_spike_is_recent_daily_demand_at_least_twice_its_own_baseline_and_more_than_a_stray_order():
    assert _site(BOS, "NE-BOS", recent_demand=28, baseline_demand=56).spike  # 4/day against 1/day
    assert not _site(BOS, "NE-BOS", recent_demand=10, baseline_demand=56).spike  # 1.43/day against 1/day
    assert not _site(BOS, "NE-BOS", recent_demand=4, baseline_demand=56).spike  # one stray order
    assert not _site(BOS, "NE-BOS", recent_demand=28, baseline_demand=0).spike  # no baseline to be above
    assert _site(BOS, "NE-BOS", recent_demand=28, baseline_demand=56).daily_demand == D(4)
    assert _site(BOS, "NE-BOS", recent_demand=10, baseline_demand=56).daily_demand == D(1)


def test_the_need_within_the_lead_time_counts_backorders_and_demand_less_free_and_inbound_stock():
    short = _site(BOS, "NE-BOS", backordered=40, baseline_demand=112)  # 2/day, nothing on hand
    assert rules.need_within(short, lead_days=3) == rules.Need(D(46), "shortage")
    covered = _site(BOS, "NE-BOS", backordered=40, baseline_demand=112, inbound=46)
    assert rules.need_within(covered, lead_days=3).quantity == D(0)
    thin = _site(BOS, "NE-BOS", on_hand=5, allocated=2, baseline_demand=112)  # 3 free, 1.5 days of cover
    assert rules.need_within(thin, lead_days=3) == rules.Need(D(3), "service_risk")
    spiking = _site(BOS, "NE-BOS", on_hand=10, recent_demand=42, baseline_demand=56)  # 6/day against 1/day
    assert rules.need_within(spiking, lead_days=3) == rules.Need(D(8), "demand_spike")


def test_a_sources_surplus_keeps_its_own_demand_over_transit_and_the_cover_horizon():
    source = _site(ATL, "SE-ATL", on_hand=400, allocated=20, backordered=0, outbound=10, baseline_demand=112)
    # 400 - 20 - 10 - 2/day x (3 + 30) days = 304
    assert rules.surplus_beyond_cover(source, transit_days=3) == D(304)
    assert rules.surplus_beyond_cover(_site(ATL, "SE-ATL", on_hand=10, baseline_demand=560),
                                      transit_days=3) == D(0)


def test_freight_is_per_unit_plus_per_kg_of_the_items_weight_or_none_without_a_rate():
    assert rules.freight_cost(quantity=D(40), weight_kg=D("2.5"), lane=LANE) == D("24.00")  # 14 + 10
    assert rules.freight_cost(quantity=D(40), weight_kg=None, lane=LANE) == D("14.00")
    assert rules.freight_cost(quantity=D(40), weight_kg=D(1), lane=Lane(transit_days=3)) is None


def test_the_score_rises_with_the_service_at_stake_and_falls_with_freight_and_transit_time():
    def score(**changes: object) -> Decimal:
        args: dict[str, object] = {"quantity": D(40), "backordered": D(40), "reason": "shortage",
                                   "unit_value": D("2.50"), "freight_in_value_currency": D(14), "transit_days": 3}
        args.update(changes)
        return rules.score(**args)  # type: ignore[arg-type]  # the keywords are the rule's; their values vary by test

    assert D(0) < score() < D(100)
    assert score(freight_in_value_currency=D(0)) > score() > score(freight_in_value_currency=D(140))
    assert score(transit_days=1) > score() > score(transit_days=8)
    assert score() > score(backordered=D(0), reason="service_risk") > score(backordered=D(0), reason="surplus")
    assert score(unit_value=D(25)) > score()
    assert score(freight_in_value_currency=D(0), transit_days=0) == D(100)


def test_the_whitepaper_case_recommends_the_backorder_from_the_surplus_and_explains_itself():
    sites = {BOS: _site(BOS, "NE-BOS", backordered=40, baseline_demand=168),  # 3/day: 49 short over 3 days
             ATL: _site(ATL, "SE-ATL", on_hand=400, baseline_demand=56)}  # 1/day: 400 - 33 = 367 surplus
    (candidate,) = rules.recommend(sites=sites, lanes={(ATL, BOS): LANE}, unit_values={ATL: D("2.50")},
                                   weight_kg=D("0.5"))
    assert (candidate.from_warehouse_id, candidate.to_warehouse_id, candidate.quantity, candidate.reason) == (
        ATL, BOS, D(49), "shortage")
    assert candidate.freight_cost == D("19.60")  # 49 x (0.35 + 0.5 x 0.10)
    assert candidate.explanation == ("NE-BOS: 40 backordered, no free stock; SE-ATL: 367 surplus beyond 30 days; "
                                     "3 transit days; freight 19.60 USD")
    assert candidate.figures["need"] == "49" and candidate.figures["surplus"] == "367"


def test_a_target_and_a_source_are_each_served_once_best_score_first():
    sites = {BOS: _site(BOS, "NE-BOS", backordered=30), NYC: _site(NYC, "NE-NYC", backordered=30),
             ATL: _site(ATL, "SE-ATL", on_hand=40)}
    near = Lane(transit_days=1, per_unit=D("0.15"), currency="USD")
    lanes = {(ATL, BOS): LANE, (ATL, NYC): near}
    chosen = rules.recommend(sites=sites, lanes=lanes, unit_values={ATL: D(1)}, weight_kg=None)
    assert [(c.to_warehouse_id, c.quantity) for c in chosen] == [(NYC, D(30)), (BOS, D(10))]
    assert chosen[0].score > chosen[1].score
    # two sources for one target: the nearer serves first and the other only the rest
    sites = {BOS: _site(BOS, "NE-BOS", backordered=30), NYC: _site(NYC, "NE-NYC", on_hand=20),
             ATL: _site(ATL, "SE-ATL", on_hand=400)}
    chosen = rules.recommend(sites=sites, lanes={(ATL, BOS): LANE, (NYC, BOS): near}, unit_values={},
                             weight_kg=None)
    assert [(c.from_warehouse_id, c.quantity) for c in chosen] == [(NYC, D(20)), (ATL, D(10))]


def test_without_need_a_source_without_demand_sends_its_surplus_where_it_sells():
    sites = {BOS: _site(BOS, "NE-BOS", on_hand=10, baseline_demand=56),  # 1/day, 10 days of cover
             ATL: _site(ATL, "SE-ATL", on_hand=200)}  # sells nowhere
    (candidate,) = rules.recommend(sites=sites, lanes={(ATL, BOS): LANE}, unit_values={}, weight_kg=None)
    assert (candidate.quantity, candidate.reason) == (D(23), "surplus")  # 1/day x 33 days - 10
    assert candidate.explanation.startswith("NE-BOS: 10 days of cover; SE-ATL: 200 surplus, no demand in 63 days")
    # a source that sells itself keeps its stock for a target that is not short
    sites[ATL] = _site(ATL, "SE-ATL", on_hand=200, baseline_demand=56)
    assert rules.recommend(sites=sites, lanes={(ATL, BOS): LANE}, unit_values={}, weight_kg=None) == []


def test_nothing_is_recommended_without_surplus_need_or_a_lane():
    short = _site(BOS, "NE-BOS", backordered=10)
    assert rules.recommend(sites={BOS: short, ATL: _site(ATL, "SE-ATL")}, lanes={(ATL, BOS): LANE},
                           unit_values={}, weight_kg=None) == []
    assert rules.recommend(sites={BOS: _site(BOS, "NE-BOS"), ATL: _site(ATL, "SE-ATL", on_hand=50, baseline_demand=1)},
                           lanes={(ATL, BOS): LANE}, unit_values={}, weight_kg=None) == []
    assert rules.recommend(sites={BOS: short, ATL: _site(ATL, "SE-ATL", on_hand=50)}, lanes={},
                           unit_values={}, weight_kg=None) == []
