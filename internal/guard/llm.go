package guard

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Classify sends prompt to a model as the single user message and returns the model's reply.
// The policy layer builds one from a configured provider and passes it to the llm_classifier
// detector as the option "provider".
type Classify func(ctx context.Context, prompt string) (string, error)

// LlamaGuardCategories returns the Llama Guard 3 hazard taxonomy, S1 to S14, as the prompt
// lists it ("S1: Violent Crimes.").
func LlamaGuardCategories() []string { return slices.Clone(llamaGuardCategories) }

var llamaGuardCategories = []string{
	"S1: Violent Crimes.", "S2: Non-Violent Crimes.", "S3: Sex-Related Crimes.",
	"S4: Child Sexual Exploitation.", "S5: Defamation.", "S6: Specialized Advice.", "S7: Privacy.",
	"S8: Intellectual Property.", "S9: Indiscriminate Weapons.", "S10: Hate.",
	"S11: Suicide & Self-Harm.", "S12: Sexual Content.", "S13: Elections.", "S14: Code Interpreter Abuse.",
}

// LlamaGuardPrompt is the Llama Guard 3 classification prompt for text said by role ("User"
// or "Agent"), with the given categories (nil: all fourteen). It is the content of the user
// turn; the model's chat template (which the serving stack applies) adds the special tokens.
func LlamaGuardPrompt(role, text string, categories []string) string {
	if categories == nil {
		categories = llamaGuardCategories
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Task: Check if there is unsafe content in '%s' messages in conversations according our safety policy with the below categories.\n\n", role)
	b.WriteString("<BEGIN UNSAFE CONTENT CATEGORIES>\n")
	for _, c := range categories {
		b.WriteString(c)
		b.WriteByte('\n')
	}
	b.WriteString("<END UNSAFE CONTENT CATEGORIES>\n\n<BEGIN CONVERSATION>\n\n")
	fmt.Fprintf(&b, "%s: %s\n\n", role, text)
	b.WriteString("<END CONVERSATION>\n\n")
	fmt.Fprintf(&b, "Provide your safety assessment for ONLY THE LAST %s message in the above conversation:\n", role)
	b.WriteString(" - First line must read 'safe' or 'unsafe'.\n")
	b.WriteString(" - If unsafe, a second line must include a comma-separated list of violated categories.")
	return b.String()
}

var codePattern = regexp.MustCompile(`(?i)\bS([0-9]{1,2})\b`)

// ParseLlamaGuard reads a Llama Guard reply: "safe", or "unsafe" and on the next line the
// violated categories ("S1,S10"). It returns whether the text is safe and the codes in
// upper case; a reply that starts with neither word is an error.
func ParseLlamaGuard(reply string) (safe bool, codes []string, err error) {
	t := strings.TrimSpace(reply)
	first, rest, _ := strings.Cut(t, "\n")
	switch strings.ToLower(strings.TrimSpace(first)) {
	case "safe":
		return true, nil, nil
	case "unsafe":
	default:
		return false, nil, fmt.Errorf("guard: the classifier's reply does not start with \"safe\" or \"unsafe\": %q", shorten(t, 80))
	}
	for _, m := range codePattern.FindAllStringSubmatch(rest, -1) {
		n, _ := strconv.Atoi(m[1])
		if n < 1 || n > 14 {
			continue
		}
		code := "S" + strconv.Itoa(n)
		if !slices.Contains(codes, code) {
			codes = append(codes, code)
		}
	}
	return false, codes, nil
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// llmClassifier asks a Llama Guard model whether a text is safe.
type llmClassifier struct {
	classify   Classify
	role       string
	categories []string // the codes that count; empty: all
}

func newLLMClassifier(o *options) (Detector, error) {
	v, ok := o.get("provider")
	if !ok {
		return nil, o.errorf("provider", "required: the model to ask; a policy names it and Plumb fills this option in")
	}
	var c Classify
	switch f := v.(type) {
	case Classify:
		c = f
	case func(context.Context, string) (string, error):
		c = f
	default:
		return nil, o.errorf("provider", "want a guard.Classify, got %T", v)
	}
	role, err := o.str("role", "user")
	if err != nil {
		return nil, err
	}
	switch role {
	case "user":
		role = "User"
	case "agent":
		role = "Agent"
	default:
		return nil, o.errorf("role", "%q: use user (checking what a person sent) or agent (checking a model's answer)", role)
	}
	cats, err := o.strs("categories")
	if err != nil {
		return nil, err
	}
	for i, c := range cats {
		n, err := strconv.Atoi(strings.TrimPrefix(strings.ToUpper(c), "S"))
		if err != nil || n < 1 || n > 14 || !strings.HasPrefix(strings.ToUpper(c), "S") {
			return nil, o.errorf("categories", "%q is not a Llama Guard category: use S1 to S14", c)
		}
		cats[i] = "S" + strconv.Itoa(n)
	}
	return &llmClassifier{classify: c, role: role, categories: cats}, nil
}

func (d *llmClassifier) Name() string { return "llm_classifier" }

func (d *llmClassifier) Detect(ctx context.Context, text string) ([]Finding, error) {
	reply, err := d.classify(ctx, LlamaGuardPrompt(d.role, text, nil))
	if err != nil {
		return nil, fmt.Errorf("guard: llm_classifier: %w", err)
	}
	safe, codes, err := ParseLlamaGuard(reply)
	if err != nil {
		return nil, err
	}
	if safe {
		return nil, nil
	}
	var names []string
	for _, c := range codes {
		if len(d.categories) > 0 && !slices.Contains(d.categories, c) {
			continue
		}
		n, _ := strconv.Atoi(c[1:])
		names = append(names, strings.TrimSuffix(llamaGuardCategories[n-1], "."))
	}
	if len(codes) > 0 && len(names) == 0 {
		return nil, nil // unsafe only in categories this policy does not count
	}
	reason := "the classifier judged the text unsafe"
	if len(names) > 0 {
		reason += ": " + strings.Join(names, "; ")
	}
	return []Finding{{Detector: "llm_classifier", Type: "unsafe", Start: 0, End: len(text), Score: 1, Reason: reason}}, nil
}
