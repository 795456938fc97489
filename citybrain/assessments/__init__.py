"""Assessed indicators: scores an evaluator enters where no sensor measures anything (the
mechanisms of the evaluation table, ease of use, the team, the systems' completeness and
interface standards), each against its item's rubric (``citybrain.indicators.evaluation``),
with evidence files, approved or rejected by a second person, versioned and audited
(``store``); the routes over them (``api``)."""
