package server

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// pathParam finds the {name} wildcards of a pattern.
var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// openAPI serves the OpenAPI 3.1 document generated from the route table.
func (s *Server) openAPI(w http.ResponseWriter, _ *http.Request, _ *call) error {
	writeJSON(w, http.StatusOK, s.openAPIDoc())
	return nil
}

// openAPIDoc builds the document: one operation per route, with its access rule as
// security requirements and an x-plumb-role extension.
func (s *Server) openAPIDoc() map[string]any {
	paths := map[string]map[string]any{}
	for _, rt := range s.routes() {
		// A rest wildcard ({name...}, a prompt name with slashes) is a plain parameter in
		// OpenAPI, whose value is sent with its slashes.
		path := strings.ReplaceAll(rt.Path, "...}", "}")
		op := map[string]any{
			"summary":     rt.Summary,
			"operationId": operationID(rt),
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true,
				"schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.Query {
			params = append(params, map[string]any{"name": q, "in": "query", "required": false,
				"schema": map[string]any{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.Body != "" {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/" + rt.Body}}}}
			if rt.Body == "DatasetFile" {
				file := map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/DatasetFile"}}
				op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
					"application/x-ndjson": file, "text/csv": file, "application/json": file}}
			}
		}
		ok := map[string]any{"description": http.StatusText(rt.Status)}
		if rt.Status != http.StatusNoContent && rt.Path != "/healthz" {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}
		}
		op["responses"] = map[string]any{
			strconv.Itoa(rt.Status): ok,
			"default": map[string]any{"description": "An error", "content": map[string]any{
				"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}},
		}
		switch rt.Access {
		case public:
			op["security"] = []any{}
		case instanceAdmin:
			op["x-plumb-access"] = "instance admin"
		case project:
			op["x-plumb-access"] = "project"
			op["x-plumb-role"] = string(rt.Role)
		default:
			op["x-plumb-access"] = "authenticated"
		}
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][strings.ToLower(rt.Method)] = op
	}
	str := map[string]any{"type": "string"}
	role := map[string]any{"type": "string", "enum": []string{"viewer", "editor", "admin"}}
	object := func(required []string, props map[string]any) map[string]any {
		return map[string]any{"type": "object", "additionalProperties": false, "required": required, "properties": props}
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "Plumb API", "version": "1",
			"description": "Eval runs, projects, members, API keys and the audit log of a Plumb server. " +
				"Errors are {\"error\": {\"code\", \"message\", \"field\"}}. Cookie sessions must send " +
				"X-CSRF-Token on POST, PATCH and DELETE."},
		"paths": paths,
		"security": []any{
			map[string]any{"apiKey": []any{}},
			map[string]any{"session": []any{}},
		},
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"apiKey":  map[string]any{"type": "http", "scheme": "bearer", "description": "an API key, plk_ + 32 characters"},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": sessionCookie},
			},
			"schemas": map[string]any{
				"Error": object([]string{"error"}, map[string]any{"error": object([]string{"code", "message"}, map[string]any{
					"code": map[string]any{"type": "string", "enum": []string{codeBadRequest, codeUnauthorized, codeForbidden,
						codeCSRF, codeNotFound, codeConflict, codeTooLarge, codeMediaType, codeRateLimited, codeInternal}},
					"message": str, "field": str,
				})}),
				"Login":         object([]string{"email", "password"}, map[string]any{"email": str, "password": str}),
				"ProjectCreate": object([]string{"slug", "name"}, map[string]any{"slug": str, "name": str}),
				"MemberCreate":  object([]string{"email", "role"}, map[string]any{"email": str, "role": role}),
				"MemberUpdate":  object([]string{"role"}, map[string]any{"role": role}),
				"KeyCreate": object([]string{"name", "role"}, map[string]any{"name": str, "role": role,
					"expires_at": map[string]any{"type": "string", "format": "date-time"}}),
				"UserCreate": object([]string{"email", "password"}, map[string]any{"email": str, "password": str,
					"is_admin": map[string]any{"type": "boolean"}}),
				"UserUpdate": object([]string{}, map[string]any{"disabled": map[string]any{"type": "boolean"},
					"is_admin": map[string]any{"type": "boolean"}}),
				"PasswordChange": object([]string{"current_password", "new_password"}, map[string]any{"current_password": str, "new_password": str}),
				"DatasetCreate":  object([]string{"name"}, map[string]any{"name": str, "description": str}),
				"DatasetFile":    map[string]any{"description": "the items as JSONL, CSV with a header row, or a JSON array of objects (docs/datasets.md)"},
				"DatasetPolicy": object([]string{}, map[string]any{"retention_days": map[string]any{"type": "integer", "minimum": 0},
					"drop_revoked": map[string]any{"type": "boolean"}, "subject_field": str}),
				"Revocation": object([]string{}, map[string]any{"item_ids": map[string]any{"type": "array", "items": map[string]any{"type": "integer"}},
					"subjects": map[string]any{"type": "array", "items": str}, "reason": str}),
				"AddFailed": object([]string{"run"}, map[string]any{"run": str, "message": str}),
				"PromptPush": map[string]any{"type": "object", "additionalProperties": false,
					"description": "a prompt version as a prompt file has it (docs/prompts.md): template or messages, and model, params, tools, response_format; message says what changed",
					"properties": map[string]any{"template": str, "messages": map[string]any{"type": "array", "items": object([]string{"role", "content"},
						map[string]any{"role": map[string]any{"type": "string", "enum": []string{"system", "user", "assistant"}}, "content": str})},
						"model": str, "params": map[string]any{"type": "object"}, "tools": map[string]any{}, "response_format": map[string]any{},
						"message": str}},
				"PromptLabelMove":      object([]string{"label", "version"}, map[string]any{"label": str, "version": map[string]any{"type": "integer", "minimum": 1}}),
				"PromptRollback":       object([]string{"label"}, map[string]any{"label": str, "reason": str}),
				"PromptReviewCreate":   object([]string{"prompt", "version"}, map[string]any{"prompt": str, "label": str, "version": map[string]any{"type": "integer", "minimum": 1}, "description": str}),
				"PromptReviewComment":  object([]string{"body"}, map[string]any{"body": str}),
				"PromptReviewDecision": object([]string{}, map[string]any{"comment": str}),
				"PromptSettings":       object([]string{"protected_labels"}, map[string]any{"protected_labels": map[string]any{"type": "array", "items": str}}),
				"ApprovalCheck": object([]string{"tool", "call_id"}, map[string]any{"tool": str, "call_id": str, "on_behalf_of": str,
					"arguments": map[string]any{"description": "the call's arguments: a JSON object, or a string holding one"}}),
				"ApprovalDecision": object([]string{"decision"}, map[string]any{"decision": map[string]any{"type": "string", "enum": []string{"approve", "edit", "reject"}},
					"reason": str, "arguments": map[string]any{"description": "edit: the new arguments, a JSON object"}}),
				"ApprovalOutcome": object([]string{"call_id", "arguments_hash", "outcome"}, map[string]any{"call_id": str, "arguments_hash": str,
					"outcome": map[string]any{"type": "string", "enum": []string{"executed", "failed"}}, "detail": str}),
				"SubjectRevocation": object([]string{"subjects"}, map[string]any{"subjects": map[string]any{"type": "array", "items": str}, "reason": str}),
				"Report": map[string]any{"type": "object", "required": []string{"run", "summary", "results"},
					"description": "the JSON report of `plumb eval -o run.json` (docs/reports.md)"},
			},
		},
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	for name, schema := range queueSchemas(object) {
		schemas[name] = schema
	}
	return doc
}

// operationID names an operation after its method and path: GET
// /api/v1/projects/{project}/runs is get_projects_project_runs.
func operationID(rt route) string {
	p := strings.ReplaceAll(strings.TrimPrefix(rt.Path, "/api/v1"), "...", "")
	p = strings.NewReplacer("{", "", "}", "", ".", "_", "-", "_").Replace(p)
	return strings.ToLower(rt.Method) + strings.ReplaceAll(p, "/", "_")
}
