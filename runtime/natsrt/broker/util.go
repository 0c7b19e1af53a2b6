package broker

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
)

// randomToken returns 256 random bits in hex.
func randomToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails; crashes the program if randomness is unavailable
	return hex.EncodeToString(b[:])
}

func serverTLS(c *Credentials) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{c.Cert}}
}

// slogAdapter passes nats-server's log lines to slog: notices at debug
// level (they are chatty), warnings and errors as such.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(f string, v ...any) { a.l.Debug("nats: " + fmt.Sprintf(f, v...)) }
func (a slogAdapter) Warnf(f string, v ...any)   { a.l.Warn("nats: " + fmt.Sprintf(f, v...)) }
func (a slogAdapter) Fatalf(f string, v ...any)  { a.l.Error("nats: fatal: " + fmt.Sprintf(f, v...)) }
func (a slogAdapter) Errorf(f string, v ...any)  { a.l.Error("nats: " + fmt.Sprintf(f, v...)) }
func (a slogAdapter) Debugf(f string, v ...any)  { a.l.Debug("nats: " + fmt.Sprintf(f, v...)) }
func (a slogAdapter) Tracef(string, ...any)      {}
