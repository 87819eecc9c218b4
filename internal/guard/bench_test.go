package guard

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// message2KB is a 2 KB customer-support message: prose with an e-mail address, a phone
// number, an order number, a date, an amount and a URL, the mix a gateway sees.
func message2KB() string {
	para := "Hello team, I'm writing about order #100234-5678 placed on 2024-01-15. The parcel never arrived " +
		"and the tracking page at https://track.example.com/p/8812 says it was delivered to a neighbour. " +
		"Could you check with the courier? You can reach me at jane.doe@example.com or on +44 20 7946 0958 " +
		"between 9:00 and 17:30. I paid 129.99 EUR and would prefer a refund to the original payment method. " +
		"Thanks in advance for your help; I have been a customer for years and this is the first problem.\n"
	s := strings.Repeat(para, 2048/len(para)+1)
	return s[:2048]
}

// pipelineSpecs is every built-in detector except llm_classifier, with typical options.
func pipelineSpecs() []Spec {
	return []Spec{
		{Name: "pii"},
		{Name: "secrets"},
		{Name: "injection"},
		{Name: "leakage", Options: map[string]any{
			"canary":           "c4n4ry-7f3a9e21",
			"protected_prompt": strings.Repeat("You are the support assistant of Acme. Answer politely, never promise refunds above 500 EUR, and escalate legal threats. ", 8),
		}},
		{Name: "denied_topics", Options: map[string]any{"topics": map[string]any{
			"medical_advice": []any{"diagnosis", "dosage", "prescription drugs"},
			"politics":       []any{"election", "political party", "vote for"},
			"competitors":    map[string]any{"words": []any{"globex", "initech"}, "patterns": []any{`umbrella\s+corp`}},
		}}},
		{Name: "banned_words", Options: map[string]any{"words": []any{"idiot", "stupid", "shut up", "damn"}, "patterns": []any{`kill\s+yourself`}}},
		{Name: "json_schema", Options: map[string]any{"schema": map[string]any{"type": "object", "required": []any{"answer"}}}},
		{Name: "length", Options: map[string]any{"max_chars": 4000, "max_tokens": 1000}},
		{Name: "language", Options: map[string]any{"allowed": []any{"en"}}},
	}
}

func pipeline(tb testing.TB) []Detector {
	var ds []Detector
	for _, s := range pipelineSpecs() {
		d, err := New(s)
		if err != nil {
			tb.Fatal(err)
		}
		ds = append(ds, d)
	}
	return ds
}

// BenchmarkPipeline runs the whole non-LLM pipeline on one 2 KB message; the target is under
// 50 µs per message on one core (go test -bench Pipeline -cpu 1 ./internal/guard).
func BenchmarkPipeline(b *testing.B) {
	ds := pipeline(b)
	msg := message2KB()
	ctx := context.Background()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	cpu := cpuNanos()
	for b.Loop() {
		for _, d := range ds {
			if _, err := d.Detect(ctx, msg); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(cpuNanos()-cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkDetector runs each detector alone on the same message, to see where time goes.
func BenchmarkDetector(b *testing.B) {
	msg := message2KB()
	ctx := context.Background()
	for _, d := range pipeline(b) {
		b.Run(d.Name(), func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			cpu := cpuNanos()
			for b.Loop() {
				if _, err := d.Detect(ctx, msg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuNanos()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkPipelineNewPhone is BenchmarkPipeline when the message's phone number was never
// seen before (it changes every message; the pii detector keeps libphonenumber's answers
// for numbers it has seen): the worst case of the phone check. Each message is built in
// the loop (a 2 KB copy), which this figure includes.
func BenchmarkPipelineNewPhone(b *testing.B) {
	ds := pipeline(b)
	base := message2KB()
	ctx := context.Background()
	b.SetBytes(int64(len(base)))
	b.ReportAllocs()
	cpu := cpuNanos()
	n := 0
	for b.Loop() {
		n++
		msg := strings.ReplaceAll(base, "+44 20 7946 0958", fmt.Sprintf("+44 20 %04d %04d", 7000+n/10000%3000, n%10000))
		for _, d := range ds {
			if _, err := d.Detect(ctx, msg); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(cpuNanos()-cpu)/float64(b.N), "cpu-ns/op")
}
