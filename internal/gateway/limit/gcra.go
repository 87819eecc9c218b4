package limit

import (
	"math"
	"sync"
	"time"
)

// The arithmetic both limiters share. The Redis limiter does the same in Lua (script.lua);
// the tests run one table against both, so the two cannot drift apart silently.
//
// Times are microseconds since the Unix epoch in float64, the only number type Lua has.
// rpm and tpm are each a GCRA (a token bucket kept as one "theoretical arrival time", TAT):
// a key may use its whole minute at once, and capacity comes back continuously at
// limit/60 per second. A request of cost c moves TAT to max(TAT, now) + c·(60 s/limit); it
// is admitted when TAT − now stays within 60 s. Money is counted in nano-USD, integers held
// exactly by a float64 up to 9 million dollars.
const (
	windowUS = 60e6    // the window every rate limit is expressed over
	dayUS    = 86400e6 // a UTC day
	// slackUS absorbs float rounding: a float64 near today's epoch microseconds (1.8e15) is
	// exact to 0.25 µs, so sums of fractional emission intervals can land a hair over the
	// window. 8 µs is far below any rate a key can be given.
	slackUS = 8
	nanoUSD = 1e9
)

// counts is one key's state, the same fields as the Redis hash.
type counts struct {
	rpm, tpm float64 // TATs in µs
	day      float64 // the UTC day (days since the epoch) spent belongs to
	spent    float64 // nano-USD spent or reserved on day
}

// dim is one limit's outcome for one request.
type dim struct {
	on        bool
	limit     float64 // requests, tokens or USD
	remaining float64 // after this request when admitted; before it when refused
	refused   bool
	retryUS   float64 // when refused: how long until this limit admits the request
}

// gcra checks a request of cost against a bucket whose TAT is tat. It returns the new TAT
// (when admitted), whether it is admitted, and otherwise how long until it would be.
func gcra(tat, now float64, limit int, cost float64) (next float64, ok bool, retry float64) {
	t := windowUS / float64(limit)
	inc := cost * t
	next = math.Max(tat, now) + inc
	if inc > windowUS {
		// A request larger than the whole minute's allowance could never fit: it is admitted
		// when the bucket is full, and the debt it leaves delays the requests after it.
		if tat <= now+slackUS {
			return next, true, 0
		}
		return tat, false, tat - now
	}
	if next-now <= windowUS+slackUS {
		return next, true, 0
	}
	return tat, false, next - windowUS - now
}

// left is how many units of a GCRA bucket are free at now.
func left(tat, now float64, limit int) float64 {
	t := windowUS / float64(limit)
	used := math.Max(tat-now, 0)
	return math.Max(math.Floor((windowUS-used+slackUS)/t), 0)
}

// admitCounts is Admit on one key's counts; it updates c only when the request is admitted,
// so that a request refused by one limit is not counted by the others.
func admitCounts(c *counts, now float64, l Limits, est Usage) (dims [3]dim, ok bool) {
	day := math.Floor(now / dayUS)
	spent := 0.0
	if c.day == day {
		spent = c.spent
	}
	ok = true
	nextR, nextT := c.rpm, c.tpm
	if l.RPM > 0 {
		var rOK bool
		var retry float64
		nextR, rOK, retry = gcra(c.rpm, now, l.RPM, 1)
		dims[0] = dim{on: true, limit: float64(l.RPM), refused: !rOK, retryUS: retry}
		ok = ok && rOK
	}
	if l.TPM > 0 {
		var tOK bool
		var retry float64
		nextT, tOK, retry = gcra(c.tpm, now, l.TPM, float64(max(est.Tokens, 0)))
		dims[1] = dim{on: true, limit: float64(l.TPM), refused: !tOK, retryUS: retry}
		ok = ok && tOK
	}
	budget, cost := toNano(l.BudgetUSDPerDay), toNano(est.CostUSD)
	if l.BudgetUSDPerDay > 0 {
		bOK := spent < budget && spent+cost <= budget
		dims[2] = dim{on: true, limit: l.BudgetUSDPerDay, refused: !bOK}
		if !bOK {
			dims[2].retryUS = (day+1)*dayUS - now
		}
		ok = ok && bOK
	}
	if ok {
		if l.RPM > 0 {
			c.rpm = nextR
		}
		if l.TPM > 0 {
			c.tpm = nextT
		}
		if l.BudgetUSDPerDay > 0 {
			c.day, c.spent = day, spent+cost
			spent = c.spent
		}
	}
	// Remaining: after this request when admitted, as things stand when refused.
	if l.RPM > 0 {
		dims[0].remaining = left(c.rpm, now, l.RPM)
	}
	if l.TPM > 0 {
		dims[1].remaining = left(c.tpm, now, l.TPM)
	}
	if l.BudgetUSDPerDay > 0 {
		dims[2].remaining = math.Max(budget-spent, 0) / nanoUSD
	}
	return dims, ok
}

// settleCounts is Settle on one key's counts. admDay is the UTC day the request's budget
// reservation was made on, or -1 when none was made.
func settleCounts(c *counts, now float64, l Limits, est, actual Usage, admDay float64) {
	if l.TPM > 0 {
		if d := float64(max(actual.Tokens, 0) - max(est.Tokens, 0)); d > 0 {
			c.tpm = math.Max(c.tpm, now) + d*windowUS/float64(l.TPM)
		} else if d < 0 && c.tpm > now {
			c.tpm += d * windowUS / float64(l.TPM)
		}
	}
	if l.BudgetUSDPerDay > 0 {
		day := math.Floor(now / dayUS)
		if c.day != day {
			c.day, c.spent = day, 0
		}
		if admDay == day {
			c.spent += toNano(actual.CostUSD) - toNano(est.CostUSD)
		} else {
			// Reserved on an earlier day (that reservation ended with its day) or never
			// reserved: the cost is charged to today, the day the request finished.
			c.spent += toNano(actual.CostUSD)
		}
		c.spent = math.Max(c.spent, 0)
	}
}

// nothingToSettle reports whether a Settle would change nothing: the estimates were exact
// and the budget reservation, if any, was made today. now nil (Redis's clock) cannot tell
// today here, so then only a request without a budget reservation qualifies.
func nothingToSettle(l Limits, est, actual Usage, admDay float64, now func() time.Time) bool {
	if l.TPM > 0 && max(actual.Tokens, 0) != max(est.Tokens, 0) {
		return false
	}
	if l.BudgetUSDPerDay <= 0 {
		return true
	}
	if toNano(actual.CostUSD) != toNano(est.CostUSD) || admDay < 0 || now == nil {
		return false
	}
	return admDay == math.Floor(micros(now())/dayUS)
}

// idle reports whether counts hold nothing that matters at now, so they can be dropped.
func (c *counts) idle(now float64) bool {
	return c.rpm <= now && c.tpm <= now && (c.day != math.Floor(now/dayUS) || c.spent == 0)
}

// clean makes limits and usage safe to compute with: a negative, NaN or infinite number
// means no limit (or no usage), never a panic, a NaN comparison or a script error.
func clean(l Limits, u ...*Usage) Limits {
	l.RPM, l.TPM = max(l.RPM, 0), max(l.TPM, 0)
	if !finite(l.BudgetUSDPerDay) || l.BudgetUSDPerDay < 0 {
		l.BudgetUSDPerDay = 0
	}
	for _, x := range u {
		x.Tokens = max(x.Tokens, 0)
		if !finite(x.CostUSD) || x.CostUSD < 0 {
			x.CostUSD = 0
		}
	}
	return l
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func toNano(usd float64) float64 {
	if usd <= 0 || !finite(usd) {
		return 0
	}
	return math.Round(usd * nanoUSD)
}

var reasons = [3]string{"rpm", "tpm", "budget"}

// decide turns the three limits' outcomes into a Decision: when refused, the limit that
// refuses the longest speaks (the request waits for all of them); when admitted, the
// tightest limit (least remaining for its size) fills Limit and Remaining.
func decide(dims [3]dim, ok bool) Decision {
	d := Decision{Allowed: ok}
	quotas := [3]*Quota{&d.Requests, &d.Tokens, &d.Budget}
	pick := -1
	for i, x := range dims {
		if !x.on {
			continue
		}
		*quotas[i] = Quota{Limit: x.limit, Remaining: x.remaining}
		switch {
		case !ok && x.refused && (pick < 0 || x.retryUS > dims[pick].retryUS):
			pick = i
		case ok && (pick < 0 || x.remaining/x.limit < dims[pick].remaining/dims[pick].limit):
			pick = i
		}
	}
	if pick < 0 {
		return d
	}
	d.Limit, d.Remaining = dims[pick].limit, dims[pick].remaining
	if !ok {
		d.Reason = reasons[pick]
		d.RetryAfter = retryAfter(dims[pick].retryUS)
	}
	return d
}

// retryAfter rounds up to whole seconds, at least one, so that a client that waits exactly
// Retry-After seconds is admitted (if nobody else took the capacity meanwhile).
func retryAfter(us float64) time.Duration {
	s := math.Ceil((us - slackUS) / 1e6)
	return time.Duration(max(s, 1)) * time.Second
}

// ledger remembers, per key and estimated cost, the UTC days of the budget reservations
// that are still in flight, so that Settle knows whether a request's reservation belongs to
// today or to a day that has ended. Admit and Settle of one request run in the same
// process, so a process-local ledger serves the Redis limiter too. Reservations with the
// same key and estimate are interchangeable: which one a Settle takes does not change the
// totals.
type ledger struct {
	mu   sync.Mutex
	m    map[ledgerKey][]float64
	adds int
}

type ledgerKey struct {
	key  string
	nano float64
}

func (g *ledger) add(key string, est float64, day float64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = make(map[ledgerKey][]float64)
	}
	k := ledgerKey{key, toNano(est)}
	g.m[k] = append(g.m[k], day)
	// A request that was admitted and never settled (a caller's bug, or a crash between
	// the two) must not keep its entry forever: from time to time, forget reservations
	// older than yesterday, which Settle would charge to today in full anyway.
	if g.adds++; g.adds%1024 == 0 {
		for k, days := range g.m {
			i := 0
			for i < len(days) && days[i] < day-1 {
				i++
			}
			if i == len(days) {
				delete(g.m, k)
			} else if i > 0 {
				g.m[k] = append([]float64(nil), days[i:]...)
			}
		}
	}
}

// take removes a reservation and returns its day, or -1 when there is none.
func (g *ledger) take(key string, est float64) float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	k := ledgerKey{key, toNano(est)}
	days := g.m[k]
	if len(days) == 0 {
		return -1
	}
	day := days[len(days)-1]
	if len(days) == 1 {
		delete(g.m, k)
	} else {
		g.m[k] = days[:len(days)-1]
	}
	return day
}

func micros(t time.Time) float64 { return float64(t.UnixMicro()) }
