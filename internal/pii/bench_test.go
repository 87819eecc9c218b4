package pii

import (
	"strings"
	"testing"
)

// mixedText is about 1 MB of prose with personal data, dates, versions and ids sprinkled in.
func mixedText() string {
	para := "Grüße! Order #100234-5678 shipped on 2024-01-15 12:30:45 (build v1.2.3, id 550e8400-e29b-41d4-a716-446655440000). " +
		"Contact jane.doe@example.com or call +44 20 7946 0958; card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, " +
		"host 192.168.1.20 / 2001:db8::1, SSN 536-22-1234. The quick brown fox jumps over the lazy dog 42 times, price 1,234.56.\n"
	return strings.Repeat(para, 1<<20/len(para)+1)
}

func BenchmarkScan1MB(b *testing.B) {
	text := mixedText()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		Scan(text)
	}
}
