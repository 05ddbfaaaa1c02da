// Package console is sluice's web console (`sluice console`, also run by
// `sluice up` and `sluice demo`): server-rendered pages (html/template,
// embedded with its stylesheet and one small script of its own, no build
// step) where a partner's people follow their imports, stop and continue
// them, download their errors, upload files and templates, and look their
// users up; and where operators see every tenant.
//
// It owns the console's accounts (Accounts: per-tenant admins and viewers,
// and operators, with argon2id password hashes, in the NATS KV bucket
// bus.AccountsBucket) and sign-ins (Sessions: HttpOnly SameSite cookies, a
// CSRF token per session that every POST carries, in bus.SessionsBucket).
// A tenant's account sees only its tenant: another tenant's import answers
// 404, as one that does not exist.
//
// What it shows of imports, and the stopping and continuing, come from
// package operate, shared with the CLI. Uploads go from the browser
// straight to the bucket, through a URL presigned with a short-lived key of
// the tenant's own MinIO user (tenantkeys), so that ingest takes them as
// the tenant's.
//
// Its one page without sign-in is an invitation's (/invite/<token>, the
// link notify mails a user created without a password): the user sets
// their password there, which the console hands to notify to store
// (notify.InviteRequests), its form guarded by a double-submit CSRF
// cookie.
package console
