"""A small built-in tool catalog the read routes answer from."""

from __future__ import annotations

from typing import Any

CATEGORIES: dict[str, str] = {
    "frontend": "Frontend frameworks",
    "backend": "Backend frameworks",
    "database": "Databases",
    "cache": "Caches and queues",
    "orm": "ORMs and query builders",
    "auth": "Authentication",
    "hosting": "Hosting",
}

TOOLS: dict[str, dict[str, Any]] = {
    tool["id"]: tool
    for tool in [
        {"id": "react", "name": "React", "category": "frontend", "language": "typescript"},
        {"id": "vue", "name": "Vue", "category": "frontend", "language": "typescript"},
        {"id": "svelte", "name": "Svelte", "category": "frontend", "language": "typescript"},
        {"id": "vite", "name": "Vite", "category": "frontend", "language": "typescript"},
        {"id": "hono", "name": "Hono", "category": "backend", "language": "typescript"},
        {"id": "express", "name": "Express", "category": "backend", "language": "javascript"},
        {"id": "fastapi", "name": "FastAPI", "category": "backend", "language": "python"},
        {"id": "django", "name": "Django", "category": "backend", "language": "python"},
        {"id": "postgres", "name": "PostgreSQL", "category": "database", "language": "sql"},
        {"id": "mysql", "name": "MySQL", "category": "database", "language": "sql"},
        {"id": "sqlite", "name": "SQLite", "category": "database", "language": "sql"},
        {"id": "redis", "name": "Redis", "category": "cache", "language": "any"},
        {"id": "drizzle", "name": "Drizzle ORM", "category": "orm", "language": "typescript"},
        {"id": "prisma", "name": "Prisma", "category": "orm", "language": "typescript"},
        {"id": "better-auth", "name": "Better Auth", "category": "auth", "language": "typescript"},
        {"id": "railway", "name": "Railway", "category": "hosting", "language": "any"},
    ]
}

# Known incompatibilities and strong pairings; everything else is "compatible".
_PAIR_NOTES: dict[frozenset[str], tuple[str, int, str]] = {
    frozenset({"django", "drizzle"}): ("incompatible", 0, "Drizzle is a TypeScript ORM"),
    frozenset({"fastapi", "prisma"}): ("partial", 40, "Prisma's Python client is community maintained"),
    frozenset({"hono", "drizzle"}): ("excellent", 95, "Both are edge-friendly TypeScript"),
    frozenset({"drizzle", "postgres"}): ("excellent", 95, "First-class driver"),
    frozenset({"react", "vite"}): ("excellent", 98, "The default Vite template"),
}

_MIGRATION_STEPS: dict[tuple[str, str], list[str]] = {
    ("express", "hono"): ["Replace app.use middleware with Hono middleware", "Port req/res to Context"],
    ("prisma", "drizzle"): [
        "Introspect the schema with drizzle-kit",
        "Port queries",
        "Remove @prisma/client",
    ],
    ("mysql", "postgres"): ["Dump with mysqldump", "Convert types", "Load with pgloader"],
}


def compatibility(a: str, b: str) -> dict[str, Any]:
    status, score, notes = _PAIR_NOTES.get(frozenset({a, b}), ("compatible", 70, "No known conflicts"))
    if a == b:
        status, score, notes = "identical", 100, "Same tool"
    return {"a": a, "b": b, "status": status, "score": score, "notes": notes}


def migration(source: str, target: str) -> dict[str, Any]:
    steps = _MIGRATION_STEPS.get((source, target))
    if steps is None:
        same_category = TOOLS[source]["category"] == TOOLS[target]["category"]
        steps = ["Audit usages", "Port incrementally", "Remove the old tool"] if same_category else []
    difficulty = "none" if source == target else ("medium" if steps else "not-applicable")
    return {"from": source, "to": target, "difficulty": difficulty, "steps": steps}


def categories() -> list[dict[str, Any]]:
    return [
        {"id": cid, "name": name, "toolCount": sum(1 for t in TOOLS.values() if t["category"] == cid)}
        for cid, name in CATEGORIES.items()
    ]


def search(query: str) -> list[dict[str, Any]]:
    needle = query.strip().lower()
    return [
        tool
        for tool in TOOLS.values()
        if not needle or needle in tool["id"] or needle in tool["name"].lower() or needle == tool["category"]
    ]


def analyze(tool_ids: list[str]) -> dict[str, Any]:
    known = [t for t in dict.fromkeys(tool_ids) if t in TOOLS]
    unknown = [t for t in dict.fromkeys(tool_ids) if t not in TOOLS]
    pairs = [compatibility(a, b) for i, a in enumerate(known) for b in known[i + 1 :]]
    score = round(sum(p["score"] for p in pairs) / len(pairs)) if pairs else 100
    return {"tools": known, "unknown": unknown, "pairs": pairs, "score": score}
