package domain

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// benchBody returns a batch of n realistic events (mixed types, metadata of a few hundred
// bytes with a secret and an e-mail to redact).
func benchBody(n int) []byte {
	types := []string{"user.login", "member.created", "github.push", "order.completed", "event.created"}
	var b strings.Builder
	b.WriteString(`{"events":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"event_id":"evt-%06d","event_type":%q,"user_id":"0190f7a2-8c3e-7b1a-9f00-%012x",`+
			`"community_id":"0190f7a2-8c3e-7b1a-9f00-%012x","entity_type":"repository","entity_id":"repo-%d",`+
			`"metadata":{"plan":"pro","source":"web","utm":{"campaign":"winter_sale","medium":"email"},`+
			`"items":[{"sku":"SKU-%d","qty":2,"price":19.99},{"sku":"SKU-9","qty":1,"price":5}],`+
			`"contact":"ann.lee@example.com","access_token":"tok_%d","note":"Thanks <3 & see you"},`+
			`"occurred_at":"2026-11-21T09:%02d:00.123456+01:00","ip_address":"203.0.113.%d","user_agent":"Mozilla/5.0 (X11; Linux x86_64)"}`,
			i, types[i%len(types)], i, i%7, i, i, i, i%60, i%250)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func BenchmarkDecodeRequest100(b *testing.B) {
	body := benchBody(100)
	def := Defaults{Now: time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC), IPAddress: "198.51.100.9", UserAgent: "bench"}
	lim := DefaultLimits()
	acc, rej, err := DecodeRequest(body, lim, def)
	if err != nil || len(acc) != 100 {
		b.Fatalf("setup: %v, %d accepted, %+v", err, len(acc), rej)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeRequest(body, lim, def); err != nil {
			b.Fatal(err)
		}
	}
}
