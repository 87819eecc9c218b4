package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// accounts implements Accounts, AuditLog and the result pages once for both dialects; both
// stores embed it.
type accounts struct {
	db  db
	now func() time.Time
	// actor is set on an audited view (Store.WithAudit): every change then appends its
	// audit entry in its own transaction.
	actor *Actor
}

// stamp is the current time as stored: UTC, to the microsecond that PostgreSQL keeps, so
// that both dialects return the same value.
func (a *accounts) stamp() time.Time { return storedTime(a.now()) }

// storedTime rounds a caller's time the way stamp does.
func storedTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// checkSlug enforces the slug form, which keeps slugs apart from ids (those hold "_").
func checkSlug(s string) error {
	ok := len(s) >= 1 && len(s) <= 63 && s[0] != '-'
	for _, r := range s {
		ok = ok && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-')
	}
	if !ok {
		return invalid("project slug %q: use 1 to 63 lower-case letters, digits and dashes, not starting with a dash", s)
	}
	return nil
}

// checkText refuses empty, overlong or unstorable text (PostgreSQL rejects NUL).
func checkText(what, s string, max int) error {
	if strings.TrimSpace(s) == "" {
		return invalid("%s is empty", what)
	}
	if len(s) > max || !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return invalid("%s must be valid text of at most %d bytes", what, max)
	}
	return nil
}

// checkEmail is a sanity check, not a validation of deliverability: one @ with text on
// both sides, no spaces or control characters.
func checkEmail(email string) error {
	local, domain, ok := strings.Cut(email, "@")
	ok = ok && local != "" && domain != "" && !strings.Contains(domain, "@") && len(email) <= 254 && utf8.ValidString(email)
	for _, r := range email {
		ok = ok && !unicode.IsSpace(r) && !unicode.IsControl(r)
	}
	if !ok {
		return invalid("email %q is not an address like name@example.com", email)
	}
	return nil
}

// emailKey is the form emails are unique and looked up in.
func emailKey(email string) string { return strings.ToLower(email) }

// checkHash refuses anything but a HashToken value, so that a raw token passed by mistake
// is never stored.
func checkHash(what, h string) error {
	ok := len(h) == 64
	for _, r := range h {
		ok = ok && (r >= '0' && r <= '9' || r >= 'a' && r <= 'f')
	}
	if !ok {
		return invalid("%s must be a HashToken value (64 lower-case hex digits)", what)
	}
	return nil
}

func checkRole(r Role) error {
	if !r.Valid() {
		return invalid("role %q: use viewer, editor or admin", r)
	}
	return nil
}

// pageSize applies the page size rules.
func pageSize(limit int) int {
	switch {
	case limit <= 0:
		return DefaultPageSize
	case limit > MaxPageSize:
		return MaxPageSize
	}
	return limit
}

// ---- projects

const projectCols = "id, slug, name, created_at"

func scanProject(r rowScanner) (Project, error) {
	var p Project
	var at timeCol
	err := r.Scan(&p.ID, &p.Slug, &p.Name, &at)
	p.CreatedAt = at.T
	return p, err
}

// CreateProject implements Accounts.
func (a *accounts) CreateProject(ctx context.Context, p Project) (Project, error) {
	if err := checkSlug(p.Slug); err != nil {
		return Project{}, err
	}
	if err := checkText("project name", p.Name, 200); err != nil {
		return Project{}, err
	}
	out := Project{ID: newID("p"), Slug: p.Slug, Name: p.Name, CreatedAt: a.stamp()}
	err := a.db.inTx(ctx, func(d db) error {
		_, err := d.exec(ctx, `INSERT INTO projects (id, slug, name, created_at) VALUES (?, ?, ?, ?)`,
			out.ID, out.Slug, out.Name, out.CreatedAt)
		if d.isUnique(err) {
			return fmt.Errorf("project slug %q %w", p.Slug, ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("create project %s: %w", p.Slug, err)
		}
		return a.record(ctx, d, out.ID, "project.create", "project", out.ID, nil, out)
	})
	if err != nil {
		return Project{}, err
	}
	return out, nil
}

// GetProject implements Accounts.
func (a *accounts) GetProject(ctx context.Context, ref string) (Project, error) {
	p, err := scanProject(a.db.queryRow(ctx, `SELECT `+projectCols+` FROM projects WHERE id = ? OR slug = ?`, ref, ref))
	if errors.Is(err, errNoRows) {
		return Project{}, fmt.Errorf("project %q %w", ref, ErrNotFound)
	}
	if err != nil {
		return Project{}, fmt.Errorf("get project %s: %w", ref, err)
	}
	return p, nil
}

// ListProjects implements Accounts.
func (a *accounts) ListProjects(ctx context.Context, userID string) ([]Project, error) {
	rows, err := a.db.query(ctx, `
		SELECT p.id, p.slug, p.name, p.created_at FROM projects p
		JOIN users u ON u.id = ? AND u.disabled = ?
		WHERE u.is_admin = ? OR EXISTS (
			SELECT 1 FROM members m WHERE m.project_id = p.id AND m.user_id = u.id)
		ORDER BY p.slug`, userID, false, true)
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	return collect(rows, "list projects", scanProject)
}

// AllProjects implements Accounts.
func (a *accounts) AllProjects(ctx context.Context) ([]Project, error) {
	rows, err := a.db.query(ctx, `SELECT `+projectCols+` FROM projects ORDER BY slug`)
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	return collect(rows, "list projects", scanProject)
}

// collect reads every row with scan.
func collect[T any](rows rowsIter, what string, scan func(rowScanner) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// ---- users

const userCols = "id, email, password_hash, is_admin, disabled, created_at"

func scanUser(r rowScanner) (User, error) {
	var u User
	var at timeCol
	err := r.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.IsAdmin, &u.Disabled, &at)
	u.CreatedAt = at.T
	return u, err
}

// CreateUser implements Accounts.
func (a *accounts) CreateUser(ctx context.Context, u User) (User, error) {
	if err := checkEmail(u.Email); err != nil {
		return User{}, err
	}
	if err := checkText("password hash", u.PasswordHash, 1024); err != nil {
		return User{}, err
	}
	out := u
	out.ID, out.CreatedAt = newID("u"), a.stamp()
	err := a.db.inTx(ctx, func(d db) error {
		_, err := d.exec(ctx, `INSERT INTO users (id, email, email_key, password_hash, is_admin, disabled, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			out.ID, out.Email, emailKey(out.Email), out.PasswordHash, out.IsAdmin, out.Disabled, out.CreatedAt)
		if d.isUnique(err) {
			return fmt.Errorf("a user with email %q %w", u.Email, ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("create user: %w", err)
		}
		return a.record(ctx, d, "", "user.create", "user", out.ID, nil, out)
	})
	if err != nil {
		return User{}, err
	}
	return out, nil
}

// GetUser implements Accounts.
func (a *accounts) GetUser(ctx context.Context, id string) (User, error) {
	return getUser(ctx, a.db, id)
}

// getUser reads a user through d, which may be a transaction.
func getUser(ctx context.Context, d db, id string) (User, error) {
	u, err := scanUser(d.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	if errors.Is(err, errNoRows) {
		return User{}, fmt.Errorf("user %q %w", id, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("get user %s: %w", id, err)
	}
	return u, nil
}

// GetUserByEmail implements Accounts.
func (a *accounts) GetUserByEmail(ctx context.Context, email string) (User, error) {
	u, err := scanUser(a.db.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE email_key = ?`, emailKey(email)))
	if errors.Is(err, errNoRows) {
		return User{}, fmt.Errorf("user with email %q %w", email, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("get user by email: %w", err)
	}
	return u, nil
}

// UpdateUser implements Accounts.
func (a *accounts) UpdateUser(ctx context.Context, id string, upd UserUpdate) (User, error) {
	var set []string
	var args []any
	if upd.PasswordHash != nil {
		if err := checkText("password hash", *upd.PasswordHash, 1024); err != nil {
			return User{}, err
		}
		set, args = append(set, "password_hash = ?"), append(args, *upd.PasswordHash)
	}
	if upd.IsAdmin != nil {
		set, args = append(set, "is_admin = ?"), append(args, *upd.IsAdmin)
	}
	if upd.Disabled != nil {
		set, args = append(set, "disabled = ?"), append(args, *upd.Disabled)
	}
	if len(set) == 0 {
		return a.GetUser(ctx, id)
	}
	var out User
	err := a.db.inTx(ctx, func(d db) error {
		if upd.IsAdmin != nil && !*upd.IsAdmin || upd.Disabled != nil && *upd.Disabled {
			if err := keepAnInstanceAdmin(ctx, d, id); err != nil {
				return err
			}
		}
		before, err := getUser(ctx, d, id)
		if err != nil {
			return err
		}
		if _, err := d.exec(ctx, "UPDATE users SET "+strings.Join(set, ", ")+" WHERE id = ?", append(args, id)...); err != nil {
			return fmt.Errorf("update user %s: %w", id, err)
		}
		if upd.Disabled != nil && *upd.Disabled {
			if _, err := d.exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, id); err != nil {
				return fmt.Errorf("end the sessions of user %s: %w", id, err)
			}
		}
		if out, err = getUser(ctx, d, id); err != nil {
			return err
		}
		return a.record(ctx, d, "", "user.update", "user", id, before, out)
	})
	if err != nil {
		return User{}, err
	}
	return out, nil
}

// keepAnInstanceAdmin checks, inside the transaction d, that id is not the only enabled
// instance admin, before a change that disables or demotes them. On PostgreSQL it locks
// the enabled admins' rows (in id order, so that two such changes cannot deadlock): of
// two admins disabling each other at once, the second waits for the first, then sees it
// gone and is refused. SQLite's write transactions are serialised already.
func keepAnInstanceAdmin(ctx context.Context, d db, id string) error {
	q := `SELECT id FROM users WHERE is_admin = ? AND disabled = ? ORDER BY id`
	if d.driver() == DriverPostgres {
		q += ` FOR UPDATE`
	}
	rows, err := d.query(ctx, q, true, false)
	if err != nil {
		return fmt.Errorf("change user %s: %w", id, err)
	}
	admins, err := collect(rows, "change user "+id, func(r rowScanner) (string, error) {
		var s string
		return s, r.Scan(&s)
	})
	if err != nil {
		return err
	}
	if len(admins) == 1 && admins[0] == id {
		return fmt.Errorf("user %q is %w of the instance (the only enabled instance admin): make another user an instance admin first", id, ErrLastAdmin)
	}
	return nil
}

// SetPassword implements Accounts.
func (a *accounts) SetPassword(ctx context.Context, id, passwordHash, keep string) (User, error) {
	if err := checkText("password hash", passwordHash, 1024); err != nil {
		return User{}, err
	}
	var out User
	err := a.db.inTx(ctx, func(d db) error {
		before, err := getUser(ctx, d, id)
		if err != nil {
			return err
		}
		if _, err := d.exec(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, passwordHash, id); err != nil {
			return fmt.Errorf("set the password of user %s: %w", id, err)
		}
		if _, err := d.exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND id_hash <> ?`, id, keep); err != nil {
			return fmt.Errorf("end the sessions of user %s: %w", id, err)
		}
		if out, err = getUser(ctx, d, id); err != nil {
			return err
		}
		return a.record(ctx, d, "", "user.password", "user", id, before, out)
	})
	if err != nil {
		return User{}, err
	}
	return out, nil
}

// ListUsers implements Accounts.
func (a *accounts) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := a.db.query(ctx, `SELECT `+userCols+` FROM users ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return collect(rows, "list users", scanUser)
}

// CountUsers implements Accounts.
func (a *accounts) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := a.db.queryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// ---- members

const memberSelect = `SELECT m.project_id, m.user_id, u.email, m.role, m.created_at
	FROM members m JOIN users u ON u.id = m.user_id`

func scanMember(r rowScanner) (Member, error) {
	var m Member
	var at timeCol
	var role string
	err := r.Scan(&m.ProjectID, &m.UserID, &m.Email, &role, &at)
	m.Role, m.CreatedAt = Role(role), at.T
	return m, err
}

// AddMember implements Accounts.
func (a *accounts) AddMember(ctx context.Context, m Member) (Member, error) {
	if err := checkRole(m.Role); err != nil {
		return Member{}, err
	}
	var out Member
	err := a.db.inTx(ctx, func(d db) error {
		_, err := d.exec(ctx, `INSERT INTO members (project_id, user_id, role, created_at) VALUES (?, ?, ?, ?)`,
			m.ProjectID, m.UserID, string(m.Role), a.stamp())
		switch {
		case d.isUnique(err):
			return fmt.Errorf("user %q is a member of project %q: membership %w", m.UserID, m.ProjectID, ErrConflict)
		case d.isForeignKey(err):
			return fmt.Errorf("user %q or project %q %w", m.UserID, m.ProjectID, ErrNotFound)
		case err != nil:
			return fmt.Errorf("add member: %w", err)
		}
		if out, err = getMembership(ctx, d, m.ProjectID, m.UserID); err != nil {
			return err
		}
		return a.record(ctx, d, m.ProjectID, "member.add", "member", m.UserID, nil, out)
	})
	if err != nil {
		return Member{}, err
	}
	return out, nil
}

// UpdateMember implements Accounts.
func (a *accounts) UpdateMember(ctx context.Context, projectID, userID string, role Role) (Member, error) {
	if err := checkRole(role); err != nil {
		return Member{}, err
	}
	var out Member
	err := a.db.inTx(ctx, func(d db) error {
		if err := keepAnAdmin(ctx, d, projectID, userID, role); err != nil {
			return err
		}
		before, err := getMembership(ctx, d, projectID, userID)
		if err != nil {
			return err
		}
		if _, err := d.exec(ctx, `UPDATE members SET role = ? WHERE project_id = ? AND user_id = ?`, string(role), projectID, userID); err != nil {
			return fmt.Errorf("update member: %w", err)
		}
		if out, err = getMembership(ctx, d, projectID, userID); err != nil {
			return err
		}
		return a.record(ctx, d, projectID, "member.update", "member", userID, before, out)
	})
	if err != nil {
		return Member{}, err
	}
	return out, nil
}

func memberNotFound(projectID, userID string) error {
	return fmt.Errorf("membership of user %q in project %q %w", userID, projectID, ErrNotFound)
}

// keepAnAdmin checks, inside the transaction d, that giving userID the role role (""
// for removing the membership) leaves projectID at least one admin member; it also
// returns ErrNotFound for a missing membership. On PostgreSQL it first locks the project
// row, so that two admins demoting each other at once are serialised and the second one
// sees the first one's change; SQLite's write transactions are serialised already.
func keepAnAdmin(ctx context.Context, d db, projectID, userID string, role Role) error {
	if d.driver() == DriverPostgres {
		var id string
		err := d.queryRow(ctx, `SELECT id FROM projects WHERE id = ? FOR UPDATE`, projectID).Scan(&id)
		if errors.Is(err, errNoRows) {
			return memberNotFound(projectID, userID)
		}
		if err != nil {
			return fmt.Errorf("change member: %w", err)
		}
	}
	var cur string
	err := d.queryRow(ctx, `SELECT role FROM members WHERE project_id = ? AND user_id = ?`, projectID, userID).Scan(&cur)
	if errors.Is(err, errNoRows) {
		return memberNotFound(projectID, userID)
	}
	if err != nil {
		return fmt.Errorf("change member: %w", err)
	}
	if Role(cur) != RoleAdmin || role == RoleAdmin {
		return nil
	}
	var admins int
	if err := d.queryRow(ctx, `SELECT count(*) FROM members WHERE project_id = ? AND role = ?`, projectID, string(RoleAdmin)).Scan(&admins); err != nil {
		return fmt.Errorf("change member: %w", err)
	}
	if admins <= 1 {
		return fmt.Errorf("user %q is %w of project %q: make another member admin first", userID, ErrLastAdmin, projectID)
	}
	return nil
}

// RemoveMember implements Accounts.
func (a *accounts) RemoveMember(ctx context.Context, projectID, userID string) error {
	return a.db.inTx(ctx, func(d db) error {
		if err := keepAnAdmin(ctx, d, projectID, userID, ""); err != nil {
			return err
		}
		before, err := getMembership(ctx, d, projectID, userID)
		if err != nil {
			return err
		}
		if _, err := d.exec(ctx, `DELETE FROM members WHERE project_id = ? AND user_id = ?`, projectID, userID); err != nil {
			return fmt.Errorf("remove member: %w", err)
		}
		return a.record(ctx, d, projectID, "member.remove", "member", userID, before, nil)
	})
}

// ListMembers implements Accounts.
func (a *accounts) ListMembers(ctx context.Context, projectID string) ([]Member, error) {
	rows, err := a.db.query(ctx, memberSelect+` WHERE m.project_id = ? ORDER BY u.email_key`, projectID)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	return collect(rows, "list members", scanMember)
}

// GetMembership implements Accounts.
func (a *accounts) GetMembership(ctx context.Context, projectID, userID string) (Member, error) {
	return getMembership(ctx, a.db, projectID, userID)
}

// getMembership reads a membership through d, which may be a transaction.
func getMembership(ctx context.Context, d db, projectID, userID string) (Member, error) {
	m, err := scanMember(d.queryRow(ctx, memberSelect+` WHERE m.project_id = ? AND m.user_id = ?`, projectID, userID))
	if errors.Is(err, errNoRows) {
		return Member{}, memberNotFound(projectID, userID)
	}
	if err != nil {
		return Member{}, fmt.Errorf("get membership: %w", err)
	}
	return m, nil
}

// ---- sessions

// CreateSession implements Accounts.
func (a *accounts) CreateSession(ctx context.Context, s Session) (Session, error) {
	if err := checkHash("session id hash", s.IDHash); err != nil {
		return Session{}, err
	}
	if s.CSRFTokenHash != "" {
		if err := checkHash("CSRF token hash", s.CSRFTokenHash); err != nil {
			return Session{}, err
		}
	}
	out := s
	out.CreatedAt = a.stamp()
	out.LastSeenAt, out.ExpiresAt = out.CreatedAt, storedTime(s.ExpiresAt)
	if !out.ExpiresAt.After(out.CreatedAt) {
		return Session{}, invalid("session expires at %s, which is not in the future", out.ExpiresAt.Format(time.RFC3339))
	}
	_, err := a.db.exec(ctx, `INSERT INTO sessions (id_hash, user_id, created_at, expires_at, last_seen_at, csrf_token_hash)
		VALUES (?, ?, ?, ?, ?, ?)`,
		out.IDHash, out.UserID, out.CreatedAt, out.ExpiresAt, out.LastSeenAt, nullable(out.CSRFTokenHash))
	switch {
	case a.db.isForeignKey(err):
		return Session{}, fmt.Errorf("user %q %w", s.UserID, ErrNotFound)
	case a.db.isUnique(err):
		return Session{}, fmt.Errorf("session %w", ErrConflict)
	case err != nil:
		return Session{}, fmt.Errorf("create session: %w", err)
	}
	return out, nil
}

// GetSessionByHash implements Accounts.
func (a *accounts) GetSessionByHash(ctx context.Context, idHash string) (Session, error) {
	var s Session
	var created, expires, seen timeCol
	var csrf textCol
	err := a.db.queryRow(ctx, `SELECT id_hash, user_id, created_at, expires_at, last_seen_at, csrf_token_hash
		FROM sessions WHERE id_hash = ? AND expires_at > ?`, idHash, a.stamp()).
		Scan(&s.IDHash, &s.UserID, &created, &expires, &seen, &csrf)
	if errors.Is(err, errNoRows) {
		// The hash is not named: it is as good as the session token in a log.
		return Session{}, fmt.Errorf("session %w", ErrNotFound)
	}
	if err != nil {
		return Session{}, fmt.Errorf("get session: %w", err)
	}
	s.CreatedAt, s.ExpiresAt, s.LastSeenAt, s.CSRFTokenHash = created.T, expires.T, seen.T, csrf.S
	return s, nil
}

// TouchSession implements Accounts.
func (a *accounts) TouchSession(ctx context.Context, idHash string) error {
	n, err := a.db.exec(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?`, a.stamp(), idHash)
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("session %w", ErrNotFound)
	}
	return nil
}

// DeleteSession implements Accounts.
func (a *accounts) DeleteSession(ctx context.Context, idHash string) error {
	n, err := a.db.exec(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash)
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("session %w", ErrNotFound)
	}
	return nil
}

// DeleteUserSessions implements Accounts.
func (a *accounts) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	n, err := a.db.exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
	if err != nil {
		return 0, fmt.Errorf("delete sessions of user %s: %w", userID, err)
	}
	return int(n), nil
}

// DeleteExpiredSessions implements Accounts.
func (a *accounts) DeleteExpiredSessions(ctx context.Context) (int, error) {
	n, err := a.db.exec(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, a.stamp())
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return int(n), nil
}

// ---- API keys

const apiKeyCols = "id, project_id, name, role, prefix, key_hash, created_by, created_at, expires_at, revoked_at, last_used_at"

func scanAPIKey(r rowScanner) (APIKey, error) {
	var k APIKey
	var role string
	var by textCol
	var created, expires, revoked, used timeCol
	err := r.Scan(&k.ID, &k.ProjectID, &k.Name, &role, &k.Prefix, &k.KeyHash, &by, &created, &expires, &revoked, &used)
	k.Role, k.CreatedBy, k.CreatedAt = Role(role), by.S, created.T
	k.ExpiresAt, k.RevokedAt, k.LastUsedAt = expires.ptr(), revoked.ptr(), used.ptr()
	return k, err
}

// CreateAPIKey implements Accounts.
func (a *accounts) CreateAPIKey(ctx context.Context, k APIKey) (APIKey, error) {
	if err := checkText("API key name", k.Name, 200); err != nil {
		return APIKey{}, err
	}
	if err := checkRole(k.Role); err != nil {
		return APIKey{}, err
	}
	if err := checkText("API key prefix", k.Prefix, 16); err != nil {
		return APIKey{}, err
	}
	if err := checkHash("API key hash", k.KeyHash); err != nil {
		return APIKey{}, err
	}
	out := APIKey{ID: newID("k"), ProjectID: k.ProjectID, Name: k.Name, Role: k.Role, Prefix: k.Prefix,
		KeyHash: k.KeyHash, CreatedBy: k.CreatedBy, CreatedAt: a.stamp()}
	if k.ExpiresAt != nil {
		t := storedTime(*k.ExpiresAt)
		out.ExpiresAt = &t
	}
	err := a.db.inTx(ctx, func(d db) error {
		_, err := d.exec(ctx, `INSERT INTO api_keys (id, project_id, name, role, prefix, key_hash, created_by, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			out.ID, out.ProjectID, out.Name, string(out.Role), out.Prefix, out.KeyHash, nullable(out.CreatedBy),
			out.CreatedAt, nullTime(out.ExpiresAt))
		switch {
		case d.isForeignKey(err):
			return fmt.Errorf("project %q or user %q %w", k.ProjectID, k.CreatedBy, ErrNotFound)
		case d.isUnique(err):
			return fmt.Errorf("API key hash %w", ErrConflict)
		case err != nil:
			return fmt.Errorf("create API key: %w", err)
		}
		return a.record(ctx, d, out.ProjectID, "key.create", "api_key", out.ID, nil, out)
	})
	if err != nil {
		return APIKey{}, err
	}
	return out, nil
}

// GetAPIKeyByHash implements Accounts.
func (a *accounts) GetAPIKeyByHash(ctx context.Context, keyHash string) (APIKey, error) {
	now := a.stamp()
	k, err := scanAPIKey(a.db.queryRow(ctx, `SELECT `+apiKeyCols+` FROM api_keys
		WHERE key_hash = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`, keyHash, now))
	if errors.Is(err, errNoRows) {
		return APIKey{}, fmt.Errorf("API key %w (or revoked, or expired)", ErrNotFound)
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("get API key: %w", err)
	}
	return k, nil
}

// ListAPIKeys implements Accounts.
func (a *accounts) ListAPIKeys(ctx context.Context, projectID string) ([]APIKey, error) {
	rows, err := a.db.query(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE project_id = ?
		ORDER BY created_at DESC, id DESC`, projectID)
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return collect(rows, "list API keys", scanAPIKey)
}

// RevokeAPIKey implements Accounts.
// Revoking a revoked key changes nothing, so it writes no audit entry.
func (a *accounts) RevokeAPIKey(ctx context.Context, projectID, id string) (APIKey, error) {
	get := func(d db) (APIKey, error) {
		k, err := scanAPIKey(d.queryRow(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE project_id = ? AND id = ?`, projectID, id))
		if errors.Is(err, errNoRows) {
			return APIKey{}, fmt.Errorf("API key %q of project %q %w", id, projectID, ErrNotFound)
		}
		if err != nil {
			return APIKey{}, fmt.Errorf("revoke API key %s: %w", id, err)
		}
		return k, nil
	}
	var out APIKey
	err := a.db.inTx(ctx, func(d db) error {
		before, err := get(d)
		if err != nil {
			return err
		}
		n, err := d.exec(ctx, `UPDATE api_keys SET revoked_at = ? WHERE project_id = ? AND id = ? AND revoked_at IS NULL`,
			a.stamp(), projectID, id)
		if err != nil {
			return fmt.Errorf("revoke API key %s: %w", id, err)
		}
		if out, err = get(d); err != nil || n == 0 {
			return err
		}
		return a.record(ctx, d, projectID, "key.revoke", "api_key", id, before, out)
	})
	if err != nil {
		return APIKey{}, err
	}
	return out, nil
}

// TouchAPIKey implements Accounts.
func (a *accounts) TouchAPIKey(ctx context.Context, id string) error {
	n, err := a.db.exec(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, a.stamp(), id)
	if err != nil {
		return fmt.Errorf("touch API key %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("API key %q %w", id, ErrNotFound)
	}
	return nil
}

// ---- audit log

const auditCols = "id, at, actor_type, actor_id, project_id, action, target_type, target_id, before, after"

func scanAudit(r rowScanner) (AuditEntry, error) {
	var e AuditEntry
	var at timeCol
	var project, before, after textCol
	err := r.Scan(&e.ID, &at, &e.ActorType, &e.ActorID, &project, &e.Action, &e.TargetType, &e.TargetID, &before, &after)
	e.At, e.ProjectID = at.T, project.S
	if before.Valid {
		e.Before = json.RawMessage(before.S)
	}
	if after.Valid {
		e.After = json.RawMessage(after.S)
	}
	return e, err
}

// jsonArg binds optional JSON as text, or NULL.
func jsonArg(what string, m json.RawMessage) (any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	if !json.Valid(m) {
		return nil, invalid("audit %s is not valid JSON", what)
	}
	return string(m), nil
}

// AppendAudit implements AuditLog.
func (a *accounts) AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error) {
	return a.appendAudit(ctx, a.db, e)
}

// appendAudit appends e through d, which may be the transaction of the change e records.
func (a *accounts) appendAudit(ctx context.Context, d db, e AuditEntry) (AuditEntry, error) {
	switch e.ActorType {
	case ActorUser, ActorAPIKey, ActorSystem:
	default:
		return AuditEntry{}, invalid("audit actor type %q: use user, api_key or system", e.ActorType)
	}
	for _, f := range []struct{ what, v string }{{"action", e.Action}, {"target type", e.TargetType}} {
		if err := checkText("audit "+f.what, f.v, 200); err != nil {
			return AuditEntry{}, err
		}
	}
	before, err := jsonArg("before", e.Before)
	if err != nil {
		return AuditEntry{}, err
	}
	after, err := jsonArg("after", e.After)
	if err != nil {
		return AuditEntry{}, err
	}
	out := e
	out.At = a.stamp()
	// An id column is filled by the database; RETURNING reads it back on both dialects
	// (SQLite >= 3.35).
	q := `INSERT INTO audit_log (at, actor_type, actor_id, project_id, action, target_type, target_id, before, after)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	args := []any{out.At, out.ActorType, out.ActorID, nullable(out.ProjectID), out.Action, out.TargetType, out.TargetID, before, after}
	if err := d.writeRow(ctx, q, args...).Scan(&out.ID); err != nil {
		return AuditEntry{}, fmt.Errorf("append audit entry %s: %w", e.Action, err)
	}
	return out, nil
}

// ListAudit implements AuditLog.
func (a *accounts) ListAudit(ctx context.Context, projectID, cursor string, limit int) ([]AuditEntry, string, error) {
	after, err := decodeCursor(auditCursor, cursor)
	if err != nil {
		return nil, "", err
	}
	n := pageSize(limit)
	var where []string
	var args []any
	if projectID != "" {
		where, args = append(where, "project_id = ?"), append(args, projectID)
	}
	if cursor != "" {
		where, args = append(where, "id < ?"), append(args, after)
	}
	q := `SELECT ` + auditCols + ` FROM audit_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	rows, err := a.db.query(ctx, q, append(args, n+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("list audit log: %w", err)
	}
	page, err := collect(rows, "list audit log", scanAudit)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(page) > n {
		page = page[:n]
		next = encodeCursor(auditCursor, page[n-1].ID)
	}
	return page, next, nil
}

// ListRuns implements Store, once for both dialects.
func (a *accounts) ListRuns(ctx context.Context, opt ListOptions) ([]RunInfo, error) {
	q, args := listQuery(opt, func(int) string { return "?" })
	rows, err := a.db.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	out := []RunInfo{}
	for rows.Next() {
		ri, err := scanRunInfo(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, ri)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}
