"""The evaluation report and the gate decision as text a person reads: the evaluation asset's
metadata, the reranker check's description and the page's Model tab say it the same way."""

from __future__ import annotations

from typing import Any


def _sampled(report: dict[str, Any]) -> str:
    total = report.get("chosen", {}).get("test_listeners", report["users_evaluated"])
    if total <= report["users_evaluated"]:
        return ""
    return f" (a seeded sample of {total}: evaluation.max_users)"


def report_markdown(report: dict[str, Any]) -> str:
    """The evaluation report as a markdown table (one row per system) plus the chosen α."""
    k = report["k"]
    head = [f"P@{k}", f"R@{k}", f"MAP@{k}", f"NDCG@{k}", "NDCG 95% CI", "hit rate", "coverage"]
    lines = [
        f"Test listeners: {report['users_evaluated']}{_sampled(report)}, K = {k}",
        "",
        "| system | " + " | ".join(head) + " |",
        "|---|" + "---|" * len(head),
    ]
    for name, m in report["systems"].items():
        lo, hi = m["ndcg_ci95"]
        cells = [
            f"{m['precision']:.4f}",
            f"{m['recall']:.4f}",
            f"{m['map']:.4f}",
            f"{m['ndcg']:.4f}",
            f"[{lo:.4f}, {hi:.4f}]",
            f"{m['hit_rate']:.4f}",
            f"{m['coverage']:.4f}",
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", gate_sentence(report.get("chosen", {}), report.get("validation", {}), k)]
    for stage, recall in report.get("candidate_recall", {}).items():
        parts = ", ".join(f"{g} {r['micro']:.3f}" for g, r in recall.items())
        lines.append(f"Candidate recall ({stage}, share of held-out pairs): {parts}.")
    return "\n".join(lines) + "\n"


def gate_sentence(chosen: dict[str, Any], validation: dict[str, Any], k: int) -> str:
    """What is served and why, in one sentence (report, asset metadata, the page's Model tab)."""
    gate = validation.get("gate", {})
    if not gate:
        return "No gate decision recorded."
    verdict = (
        "serving the reranker"
        if gate.get("passed")
        else f"serving the best single generator, {gate.get('best_generator')}"
    )
    few = gate.get("listeners", 0) < gate.get("min_listeners", 0)
    if few:
        verdict += f" (fewer than {gate['min_listeners']} listeners to judge: never the reranker)"
    return (
        f"Served: {chosen.get('served', '?')}. Gate on {gate.get('listeners')} validation "
        f"listeners: reranked ({chosen.get('objective')}, α = {chosen.get('blend_alpha')}) "
        f"NDCG@{k} {gate.get('reranked_ndcg', float('nan')):.4f} vs "
        f"{gate.get('best_generator')} {gate.get('best_ndcg', float('nan')):.4f}, difference "
        f"{gate.get('diff', float('nan')):+.4f}, one-sided {gate.get('confidence', 0):.0%} "
        f"lower bound {gate.get('lower', float('nan')):+.4f}: {verdict}."
    )
