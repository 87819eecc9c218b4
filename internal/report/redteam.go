package report

// RedTeam marks a run as a red-team run (plumb redteam) and records what it attacked: a
// red-team run is stored like an eval run, one result per attempt, with Passed meaning the
// system held (the attack failed).
type RedTeam struct {
	Purpose    string            `json:"purpose,omitempty"`
	Target     string            `json:"target"` // the system under test's label
	Categories []RedTeamCategory `json:"categories"`
	Strategies []string          `json:"strategies"`
	Attempts   int               `json:"attempts"`
	Planned    int               `json:"planned,omitempty"`  // attempts the run was to make (attacks × attempts); fewer ran when it was interrupted
	Attacker   string            `json:"attacker,omitempty"` // the attacker model's label, when one rewrote attacks
	Judge      string            `json:"judge,omitempty"`    // the judge's label, when one scored attacks
}

// RedTeamCategory is one harm category in scope, defined up front, and its threshold: the
// highest attack success rate it may have.
type RedTeamCategory struct {
	ID          string  `json:"id"` // S1..S14, LLM01..LLM10 or a custom id
	Name        string  `json:"name"`
	Source      string  `json:"source"` // llama-guard-3, owasp-llm-2025 or custom
	Description string  `json:"description"`
	Threshold   float64 `json:"threshold"`
}
