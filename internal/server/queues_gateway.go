package server

import (
	"net/http"

	"github.com/plumbhq/plumb/internal/queue"
	"github.com/plumbhq/plumb/internal/store"
)

// gatewayQueueRoutes are the endpoints of gateway review queues: the queues the cases of
// guard policies' review steps go to (docs/queues.md).
func (s *Server) gatewayQueueRoutes(p string) []route {
	return []route{
		{Method: "GET", Path: p + "/queues/{queue_id}/precision", Access: project, Role: store.RoleViewer, Handle: s.queuePrecision, Status: 200,
			Summary: "A gateway review queue's cases per policy step, with the human verdicts: correct blocks, false positives and precision"},
	}
}

func (s *Server) queuePrecision(w http.ResponseWriter, r *http.Request, c *call) error {
	q, err := s.pathQueue(r, c)
	if err != nil {
		return err
	}
	steps, err := queue.Precision(r.Context(), s.store, q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"steps": steps})
	return nil
}
