package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Actor is who makes a change: what an audited store (Store.WithAudit) writes as the actor
// of each audit entry.
type Actor struct {
	Type string // ActorUser, ActorAPIKey or ActorSystem
	ID   string // the user's or key's id; "" for the system
}

// The audit entries an audited store writes, by what changed. The before and after are the
// thing as the store returns it (never a password hash or key hash: those are not
// serialised).
//
//	run.create, run.replace   run      before (replace) and after: RunInfo
//	run.delete                run      before: RunInfo
//	project.create            project  after: Project
//	user.create, user.update  user     before (update) and after: User
//	user.password             user     before and after: User (the new password is a hash
//	                                   that is never serialised: the entry says it changed)
//	member.add, member.update, member.remove  member (target id: the user's id)  Member
//	key.create, key.revoke    api_key  before (revoke) and after: APIKey
//	prompt.push               prompt   before (a next version): the previous latest, and
//	                                   after: name, version, content_hash, author, message
//	                                   (never the content, which prompt_versions keeps)
//	prompt.label              prompt   before (a move): name, label, version; after: name,
//	                                   label, version, moved_by, move_id (its history row)
//	prompt.rollback           prompt   as prompt.label, with kind "rollback" and the reason
//	                                   (prompt.label's after has kind, reason and review_id)
//	prompt.protect            project  before and after: protected_labels
//	prompt.review.request     prompt_review  after: id, name, label, version, base_version,
//	                                   requester, description, status
//	prompt.review.comment     prompt_review  after: review_id, name, label, version,
//	                                   comment_id, author, body
//	prompt.review.approve, prompt.review.reject  prompt_review  before and after: the
//	                                   request (after: decided_by, comment, move_id); an
//	                                   approval also writes the prompt.label of its move
//	prompt.review.supersede   prompt_review  a stale request replaced by a new one
//	dataset.create            dataset  after: Dataset
//	dataset.import            dataset  before (a next version): name, version, item_count;
//	                                   after: name, version, item_count, added, duplicates,
//	                                   removed, replace, message (never the items)
//	dataset.policy            dataset  before and after: name and the DatasetPolicy
//	dataset.revoke            dataset  after: name, item_ids, subject_hashes (SHA-256 of
//	                                   each subject, never the identifier), reason, matching
//	                                   (RevokeSubjects: one entry per dataset it covers)
//	dataset.purge             dataset  after: name, purged, retention, revoked, versions,
//	                                   item_ids, policy (never an item's content)
//	queue.create, queue.update  queue  before (update) and after: Queue
//	queue.guidelines          queue    before (a next version) and after: queue, version,
//	                                   author, bytes (never the text)
//	queue.member.add, queue.member.remove  queue  queue, user_id
//	queue.adjudicate          queue    before (a change) and after: queue, item, field,
//	                                   value, note
//	queue.writeback           queue    after: queue, dataset, version, the new item ids,
//	                                   missing (with the dataset.import entry it makes)
//	approval.request          approval  after: the Approval (tool, call id, canonical
//	                                   arguments and hash, rule, requester, expiry)
//	approval.approve, approval.edit, approval.reject  approval  before and after: the
//	                                   Approval (after: approver, reason, approved hash)
//	approval.expire           approval  before and after: a pending approval past expiry
//	approval.outcome          approval  before and after: the outcome the agent reported
//	approval.mismatch         approval  after: the call id and hash an agent offered that
//	                                   are not the approved ones, and why it was refused

// record appends, inside d (the change's transaction), the audit entry of a change when the
// store is audited. Its error fails the change, whose transaction then rolls back: a change
// never outlives a missing audit entry.
func (a *accounts) record(ctx context.Context, d db, projectID, action, targetType, targetID string, before, after any) error {
	if a.actor == nil {
		return nil
	}
	e := AuditEntry{ActorType: a.actor.Type, ActorID: a.actor.ID, ProjectID: projectID, Action: action,
		TargetType: targetType, TargetID: targetID}
	var err error
	if e.Before, err = auditJSON(before); err != nil {
		return fmt.Errorf("audit %s %s: %w", action, targetID, err)
	}
	if e.After, err = auditJSON(after); err != nil {
		return fmt.Errorf("audit %s %s: %w", action, targetID, err)
	}
	if _, err := a.appendAudit(ctx, d, e); err != nil {
		return fmt.Errorf("audit %s %s: %w", action, targetID, err)
	}
	return nil
}

// auditJSON is the JSON of an entry's before or after; nil stays absent.
func auditJSON(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
}

// storedRun reads, inside d, a run's list line and project, for the before of an audit
// entry; a missing run is ErrNotFound.
func storedRun(ctx context.Context, d db, id string) (RunInfo, string, error) {
	var projectID string
	err := d.queryRow(ctx, `SELECT project_id FROM runs WHERE id = ?`, id).Scan(&projectID)
	if errors.Is(err, errNoRows) {
		return RunInfo{}, "", notFound(id)
	}
	if err != nil {
		return RunInfo{}, "", fmt.Errorf("get run %s: %w", id, err)
	}
	ri, err := scanRunInfo(d.queryRow(ctx, `SELECT id, started_at, run, cases, passed, failed, errors, pass_rate,
		gates_passed, gates_total FROM runs WHERE id = ?`, id))
	if err != nil {
		return RunInfo{}, "", fmt.Errorf("get run %s: %w", id, err)
	}
	return ri, projectID, nil
}

// runBefore is, when the store is audited, the run as it is before a save inside d (nil
// for a new run).
func (a *accounts) runBefore(ctx context.Context, d db, id string) (*RunInfo, error) {
	if a.actor == nil {
		return nil, nil
	}
	ri, _, err := storedRun(ctx, d, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("save run %s: %w", id, err)
	}
	return &ri, nil
}

// recordRunSave records, inside d, the save of run, which was before (nil: new).
func (a *accounts) recordRunSave(ctx context.Context, d db, run *runRow, before *RunInfo) error {
	if a.actor == nil {
		return nil
	}
	_, projectID, err := storedRun(ctx, d, run.id)
	if err != nil {
		return fmt.Errorf("save run %s: %w", run.id, err)
	}
	after, err := runInfo(run)
	if err != nil {
		return err
	}
	action, b := "run.create", any(nil)
	if before != nil {
		action, b = "run.replace", *before
	}
	return a.record(ctx, d, projectID, action, "run", run.id, b, after)
}

// deleteRun is DeleteRun for both dialects: the run's results go with it (ON DELETE
// CASCADE), in one transaction with its audit entry.
func (a *accounts) deleteRun(ctx context.Context, id string) error {
	return a.db.inTx(ctx, func(d db) error {
		var before any
		projectID := ""
		if a.actor != nil {
			ri, p, err := storedRun(ctx, d, id)
			if err != nil {
				return err
			}
			before, projectID = ri, p
		}
		n, err := d.exec(ctx, `DELETE FROM runs WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete run %s: %w", id, err)
		}
		if n == 0 {
			return notFound(id)
		}
		return a.record(ctx, d, projectID, "run.delete", "run", id, before, nil)
	})
}
