package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"
)

// Accounts keeps what `plumb serve` authenticates and authorises with: projects, users,
// their memberships, browser sessions and API keys. The store never sees a password or a
// token: callers pass hashes (HashToken for tokens), and lookups go by hash.
type Accounts interface {
	// CreateProject stores a new project (Slug and Name set, the rest ignored) and returns
	// it with its id and creation time; a taken slug is ErrConflict.
	CreateProject(ctx context.Context, p Project) (Project, error)
	// GetProject returns the project with this id or slug, or ErrNotFound.
	GetProject(ctx context.Context, ref string) (Project, error)
	// ListProjects returns, by slug, the projects a user may see: all of them for an
	// admin, those they are a member of otherwise, none for a disabled or unknown user.
	ListProjects(ctx context.Context, userID string) ([]Project, error)
	// AllProjects returns every project, by slug: for the operator's tools (the gateway
	// checks its config's project references against them), never for a user.
	AllProjects(ctx context.Context) ([]Project, error)

	// CreateUser stores a new user (Email, PasswordHash, IsAdmin, Disabled) and returns it
	// with its id and creation time; an email taken in any letter case is ErrConflict.
	CreateUser(ctx context.Context, u User) (User, error)
	// GetUser returns the user with this id, or ErrNotFound.
	GetUser(ctx context.Context, id string) (User, error)
	// GetUserByEmail returns the user with this email in any letter case, or ErrNotFound.
	GetUserByEmail(ctx context.Context, email string) (User, error)
	// UpdateUser changes what upd sets of a user and returns the user, or ErrNotFound.
	// Disabling a user ends their sessions in the same transaction. A change that would
	// leave the instance without an enabled instance admin (disabling or demoting the last
	// one) is ErrLastAdmin: nobody could then create projects or manage users but an
	// operator at the database. A new password goes through SetPassword; PasswordHash here
	// is for re-encoding the same password (a login upgrading its hash).
	UpdateUser(ctx context.Context, id string, upd UserUpdate) (User, error)
	// SetPassword replaces a user's password hash and ends every session of theirs but
	// keep (a Session.IDHash; "" ends them all), in one transaction, so that a stolen
	// session does not outlive the password change. It returns the user, or ErrNotFound.
	SetPassword(ctx context.Context, id, passwordHash, keep string) (User, error)
	// ListUsers returns every user, oldest first.
	ListUsers(ctx context.Context) ([]User, error)
	// CountUsers is how many users exist: 0 means the first admin is still to be created.
	CountUsers(ctx context.Context) (int, error)

	// AddMember gives a user a role in a project; an existing membership is ErrConflict, a
	// missing user or project ErrNotFound.
	AddMember(ctx context.Context, m Member) (Member, error)
	// UpdateMember changes a member's role, or returns ErrNotFound. Demoting the project's
	// last admin member is ErrLastAdmin.
	UpdateMember(ctx context.Context, projectID, userID string, role Role) (Member, error)
	// RemoveMember ends a membership, or returns ErrNotFound. Removing the project's last
	// admin member is ErrLastAdmin.
	RemoveMember(ctx context.Context, projectID, userID string) error
	// ListMembers returns a project's members with their emails, by email.
	ListMembers(ctx context.Context, projectID string) ([]Member, error)
	// GetMembership returns a user's membership of a project, or ErrNotFound.
	GetMembership(ctx context.Context, projectID, userID string) (Member, error)

	// CreateSession stores a session (IDHash, UserID, ExpiresAt, optional CSRFTokenHash);
	// the store sets CreatedAt and LastSeenAt.
	CreateSession(ctx context.Context, s Session) (Session, error)
	// GetSessionByHash returns the unexpired session with this hash, or ErrNotFound.
	GetSessionByHash(ctx context.Context, idHash string) (Session, error)
	// TouchSession records that the session was used now, or returns ErrNotFound.
	TouchSession(ctx context.Context, idHash string) error
	// DeleteSession ends a session (logout), or returns ErrNotFound.
	DeleteSession(ctx context.Context, idHash string) error
	// DeleteUserSessions ends every session of a user (password change, disabling) and
	// returns how many there were.
	DeleteUserSessions(ctx context.Context, userID string) (int, error)
	// DeleteExpiredSessions removes expired sessions and returns how many there were.
	DeleteExpiredSessions(ctx context.Context) (int, error)

	// CreateAPIKey stores a key (ProjectID, Name, Role, Prefix, KeyHash, optional CreatedBy
	// and ExpiresAt) and returns it with its id and creation time. A missing project or
	// creator is ErrNotFound.
	CreateAPIKey(ctx context.Context, k APIKey) (APIKey, error)
	// GetAPIKeyByHash returns the usable key with this hash; a revoked, expired or unknown
	// key is ErrNotFound.
	GetAPIKeyByHash(ctx context.Context, keyHash string) (APIKey, error)
	// ListAPIKeys returns a project's keys, revoked and expired ones included, newest first.
	ListAPIKeys(ctx context.Context, projectID string) ([]APIKey, error)
	// RevokeAPIKey revokes a key of a project and returns it; a key of another project is
	// ErrNotFound. Revoking a revoked key keeps its first revocation time.
	RevokeAPIKey(ctx context.Context, projectID, id string) (APIKey, error)
	// TouchAPIKey records that the key was used now, or returns ErrNotFound.
	TouchAPIKey(ctx context.Context, id string) error
}

// AuditLog is the append-only record of every change. It has no way to change or delete an
// entry, and the schema refuses both (triggers), so even a bug or a hand-written statement
// cannot rewrite history.
type AuditLog interface {
	// AppendAudit records an entry at the store's current time and returns it with its id.
	AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error)
	// ListAudit returns one page of entries, newest first, of one project ("" for the
	// whole log), and the cursor of the next page ("" after the last). limit <= 0 means
	// DefaultPageSize and is capped at MaxPageSize; a malformed cursor is ErrInvalid.
	ListAudit(ctx context.Context, projectID, cursor string, limit int) (page []AuditEntry, next string, err error)
}

// DefaultProjectID is the project that runs saved by the CLI, and runs saved before
// projects existed, belong to. Its slug is DefaultProjectSlug.
const DefaultProjectID = "p_default"

// DefaultProjectSlug is the slug of the default project.
const DefaultProjectSlug = "default"

// Project is the isolation boundary of the server: runs, members and API keys belong to one.
type Project struct {
	ID        string    `json:"id"`
	Slug      string    `json:"slug"` // lower-case letters, digits and dashes; in URLs
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// User is an account of the server.
type User struct {
	ID    string `json:"id"`
	Email string `json:"email"` // as typed; unique ignoring letter case
	// PasswordHash is the server's encoded password hash (argon2id); never serialised.
	PasswordHash string    `json:"-"`
	IsAdmin      bool      `json:"is_admin"` // sees and administers every project
	Disabled     bool      `json:"disabled"` // may not log in
	CreatedAt    time.Time `json:"created_at"`
}

// UserUpdate is a change to a user: nil fields stay as they are.
type UserUpdate struct {
	PasswordHash *string `json:"-"`
	IsAdmin      *bool   `json:"is_admin,omitempty"`
	Disabled     *bool   `json:"disabled,omitempty"`
}

// Role is what a member or an API key may do in a project.
type Role string

// The roles, from least to most powerful.
const (
	RoleViewer Role = "viewer" // reads
	RoleEditor Role = "editor" // also uploads and deletes runs
	RoleAdmin  Role = "admin"  // also manages members and API keys
)

// rank orders the roles; 0 is not a role.
func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleEditor:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// AtLeast reports whether r grants everything min grants; an invalid role grants nothing.
func (r Role) AtLeast(min Role) bool { return r.Valid() && min.Valid() && r.rank() >= min.rank() }

// Member is a user's role in a project.
type Member struct {
	ProjectID string    `json:"project_id"`
	UserID    string    `json:"user_id"`
	Email     string    `json:"email,omitempty"` // filled by ListMembers and GetMembership
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// Session is a logged-in browser. Only hashes of its tokens are kept, so a copy of the
// database does not let anyone in.
type Session struct {
	IDHash        string    `json:"-"` // HashToken of the session cookie's token
	UserID        string    `json:"user_id"`
	CreatedAt     time.Time `json:"created_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	LastSeenAt    time.Time `json:"last_seen_at"`
	CSRFTokenHash string    `json:"-"` // HashToken of the session's CSRF token, or ""
}

// APIKey is a project's key for programs (CI uploading runs). The secret is shown once and
// kept only as KeyHash; Prefix identifies it in lists.
type APIKey struct {
	ID         string     `json:"id"`
	ProjectID  string     `json:"project_id"`
	Name       string     `json:"name"`
	Role       Role       `json:"role"`
	Prefix     string     `json:"prefix"`
	KeyHash    string     `json:"-"`                    // HashToken of the key
	CreatedBy  string     `json:"created_by,omitempty"` // user id; "" when made by the system
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"` // nil: never expires
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// Actor types of audit entries.
const (
	ActorUser   = "user"
	ActorAPIKey = "api_key"
	ActorSystem = "system"
)

// AuditEntry is one change: who did what to which thing, when, and the thing before and
// after (as JSON, either absent for a creation or a deletion).
type AuditEntry struct {
	ID         int64           `json:"id"` // increasing: the log's order
	At         time.Time       `json:"at"`
	ActorType  string          `json:"actor_type"` // ActorUser, ActorAPIKey or ActorSystem
	ActorID    string          `json:"actor_id"`
	ProjectID  string          `json:"project_id,omitempty"` // "" for changes outside a project
	Action     string          `json:"action"`               // e.g. "run.delete"
	TargetType string          `json:"target_type"`          // e.g. "run"
	TargetID   string          `json:"target_id"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
}

// ErrConflict is returned (wrapped, naming the thing) when a unique value is taken: an
// email, a project slug, a membership, a run id in another project.
var ErrConflict = errors.New("already exists")

// ErrLastAdmin is returned (wrapped, naming the member) when a change would leave a project
// without an admin member: nobody but an instance admin could then manage its members and
// keys.
var ErrLastAdmin = errors.New("the last admin")

// ErrInvalid is returned (wrapped, saying what is wrong) for a value the store refuses: a
// bad slug, email, role or hash, or a malformed cursor.
var ErrInvalid = errors.New("invalid")

// Page sizes of ListResults and ListAudit.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// HashToken is how sessions and API keys are stored: the hex SHA-256 of the secret. The
// secrets are long random strings, so a fast unsalted hash suffices and lets the store
// look them up by hash.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// newID makes a random id with a prefix naming its kind ("p" for projects, "u" users, "k"
// API keys): unguessable, so an id alone reveals and grants nothing.
func newID(kind string) string {
	var b [12]byte
	rand.Read(b[:]) // never fails: see crypto/rand.Read
	return kind + "_" + hex.EncodeToString(b[:])
}
