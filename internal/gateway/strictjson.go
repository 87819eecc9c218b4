package gateway

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/plumbhq/plumb/internal/toolpolicy"
)

// A route whose guard policy or tool policy judges a call reads the request and the answer
// with Go's JSON parser, which keeps the last of a repeated key; another parser (the
// upstream's, the client's) may keep the first and read a text the guard never saw. On
// such routes a request or an answer that repeats a key at any depth (or holds invalid
// UTF-8 or an unpaired surrogate escape, which parsers also read differently) is refused.
// Routes that judge nothing pass bodies through untouched.

// judged tells whether the route's guard steps or tool policy read the call.
func (c *call) judged() bool {
	return len(c.guardSteps()) > 0 || !c.route.Tools.Empty()
}

// checkRequestJSON refuses, on a judged route, a request that parsers could read
// differently.
func (c *call) checkRequestJSON() *apiError {
	if !c.judged() {
		return nil
	}
	body := c.raw
	if c.anthropic {
		body = c.nativeRaw
	}
	if err := toolpolicy.CheckJSON(string(body)); err != nil {
		return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "ambiguous_json",
			Message: fmt.Sprintf("The request body could be read in more than one way: %s. The route `%s` checks requests with a guard or tool policy, so send each key once (and valid UTF-8).", ambiguity(err), c.route.Name)}
	}
	return nil
}

// checkAnswerJSON refuses, on a route with guard steps, a plain answer that the client's
// parser could read otherwise than the guards did (native: a pass-through's own answer, or
// nil). A route with only a tool policy checks its answers in toolsOutput.
func (c *call) checkAnswerJSON(body, native []byte) *apiError {
	if len(c.guardSteps()) == 0 || c.endpoint != endpointChat {
		return nil
	}
	for _, b := range [][]byte{body, native} {
		if b == nil {
			continue
		}
		if err := toolpolicy.CheckJSON(string(b)); err != nil {
			c.blocked = "ambiguous answer"
			return &apiError{Status: http.StatusBadGateway, Type: typeServer, Code: "ambiguous_answer",
				Message: fmt.Sprintf("The upstream's answer could be read in more than one way (%s); it was blocked, as the route's guards could not judge what the client would read.", ambiguity(err))}
		}
	}
	return nil
}

// ambiguity is toolpolicy.CheckJSON's finding without its note on tool runners.
func ambiguity(err error) string {
	return strings.TrimSuffix(err.Error(), ": a runner could read either value")
}
