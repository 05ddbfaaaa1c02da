package platform

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: OWASP's first choice (19 MiB, two passes, one
// thread). A hash costs tens of milliseconds of one core, on purpose.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// hashing bounds the hashes computed at once in the process, however many
// chunks or sign-ins it handles: one per core, as each holds 19 MiB while it
// runs, so memory does not grow with the work in hand.
var hashing = make(chan struct{}, runtime.GOMAXPROCS(0))

// HashSecret hashes a secret (a password) with argon2id and returns it in
// the PHC string format ($argon2id$v=19$m=...,t=...,p=...$salt$hash) that
// login services verify (VerifySecret): transform stores imported
// passwords so, and the console its accounts' passwords.
func HashSecret(plain string, salt []byte) string {
	key := argonKey(plain, salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding.EncodeToString
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads, b64(salt), b64(key))
}

// VerifySecret reports whether plain is the secret whose PHC string
// HashSecret returned as hash, with the parameters hash names.
func VerifySecret(hash, plain string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	var mem, passes uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &passes, &threads); err != nil || mem > 1<<20 || passes > 16 || threads == 0 {
		return false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false
	}
	got := argonKey(plain, salt, passes, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// argonKey is argon2.IDKey, within the process's bound on hashes at once.
func argonKey(plain string, salt []byte, passes, mem uint32, threads uint8, n uint32) []byte {
	hashing <- struct{}{}
	defer func() { <-hashing }()
	return argon2.IDKey([]byte(plain), salt, passes, mem, threads, n)
}
