package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// MaxHeaderBytes caps the request line and headers of a request; past it the
// answer is 400 request_malformed.
const MaxHeaderBytes = 64 << 10

// readHeaderTimeout bounds how long a client may take to send its request line
// and headers; idleTimeout how long a kept-alive connection may wait for its
// next request.
const (
	readHeaderTimeout = 5 * time.Second
	idleTimeout       = 60 * time.Second
)

// HTTPServer is the net/http server for s with every connection limit set:
// deadlines on headers, bodies and answers, capped header bytes, and no answer
// that net/http would give on its own (OPTIONS *) without passing through s.
// Serve it on Listener(ln) so that requests net/http refuses before s sees them
// are answered with the error object too.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:                      s,
		ReadHeaderTimeout:            readHeaderTimeout,
		ReadTimeout:                  readHeaderTimeout + s.cfg.RequestTimeout,
		WriteTimeout:                 readHeaderTimeout + s.cfg.RequestTimeout + writeSlack,
		IdleTimeout:                  idleTimeout,
		MaxHeaderBytes:               MaxHeaderBytes,
		DisableGeneralOptionsHandler: true,
		ErrorLog:                     slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if cc, ok := c.(*conn); ok {
				return context.WithValue(ctx, connKey{}, cc)
			}
			return ctx
		},
	}
}

// connKey carries a request's *conn in its context.
type connKey struct{}

// faultyFraming reports whether the request arrived on a connection that
// carried a request head whose body's end is ambiguous (headScan). net/http
// drops the header it does not go by, so only the bytes as they arrived
// (conn.Read) tell.
func faultyFraming(r *http.Request) bool {
	c, ok := r.Context().Value(connKey{}).(*conn)
	return ok && c.heads.faulty.Load()
}

// Listener wraps ln so that the few answers net/http writes itself, before any
// handler runs (a malformed request line or header, headers past
// MaxHeaderBytes, an unsupported Transfer-Encoding or HTTP version, an Expect it
// cannot meet), reach the client as the JSON error object with a Request-Id,
// status 400 and code request_malformed, instead of net/http's plain text, and
// are logged and counted as every other error (serveRefused).
func (s *Server) Listener(ln net.Listener) net.Listener { return &listener{Listener: ln, s: s} }

type listener struct {
	net.Listener
	s *Server
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c, s: l.s}, nil
}

// conn recognises net/http's own error answers among the bytes written to the
// connection by their exact shape: net/http writes each in one call, straight
// to the connection, as a status line followed by netHTTPErrorHeaders (or, for
// an Expect it cannot meet, as a bare 417). No answer of the server's has that
// shape: every one carries a Request-Id, and a body never holds a raw CRLF
// followed by those headers.
type conn struct {
	net.Conn
	s     *Server
	heads headScan
}

func (c *conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.heads.feed(b[:n])
	return n, err
}

// headScan watches the request heads arriving on a connection for one whose
// framing is faulty (RFC 9112 §6.1): both Content-Length and Transfer-Encoding,
// or Transfer-Encoding in HTTP/1.0. Either may smuggle a request past a proxy
// that reads the other way, so the connection must be closed after the answer.
// It reads lines only: a head is a request line (one that ends "HTTP/1.x",
// however long its target, and whatever a body without a final newline put
// before it on the same line) up to the empty line. net/http serialises a
// connection's reads, so only faulty is shared.
type headScan struct {
	line          []byte // the current line's start, up to headLineKeep bytes
	tail          []byte // and its end, up to len(" HTTP/1.x") bytes
	inHead, http0 bool   // in a head; of an HTTP/1.0 request
	cl, te        bool
	faulty        atomic.Bool
}

// headLineKeep is as much of a line as telling its header's name needs.
const headLineKeep = 64

// versionLen is the length of a request line's end, " HTTP/1.1".
const versionLen = len(" HTTP/1.1")

func (h *headScan) feed(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		part := b
		if i >= 0 {
			part = b[:i]
		}
		if room := headLineKeep - len(h.line); room > 0 {
			h.line = append(h.line, part[:min(room, len(part))]...)
		}
		h.tail = append(h.tail, part[max(0, len(part)-versionLen-1):]...)
		h.tail = h.tail[max(0, len(h.tail)-versionLen-1):]
		if i < 0 {
			return
		}
		h.endLine(bytes.TrimSuffix(h.line, []byte("\r")), bytes.TrimSuffix(h.tail, []byte("\r")))
		h.line, h.tail = h.line[:0], h.tail[:0]
		b = b[i+1:]
	}
}

// endLine takes a line by its start and its end.
func (h *headScan) endLine(line, end []byte) {
	switch {
	case !h.inHead:
		if len(end) >= versionLen && bytes.HasPrefix(end[len(end)-versionLen:], []byte(" HTTP/1.")) {
			h.inHead, h.http0, h.cl, h.te = true, bytes.HasSuffix(end, []byte(" HTTP/1.0")), false, false
		}
	case len(line) == 0:
		h.inHead = false
		if h.te && (h.cl || h.http0) {
			h.faulty.Store(true)
		}
	default:
		lower := bytes.ToLower(line)
		h.cl = h.cl || bytes.HasPrefix(lower, []byte("content-length:"))
		h.te = h.te || bytes.HasPrefix(lower, []byte("transfer-encoding:"))
	}
}

const netHTTPErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c *conn) Write(b []byte) (int, error) {
	statusLine, ok := netHTTPError(b)
	if !ok {
		return c.Conn.Write(b)
	}
	if _, err := c.Conn.Write(c.s.refused(statusLine)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// netHTTPError returns the status line of an answer net/http wrote itself.
func netHTTPError(b []byte) (statusLine []byte, ok bool) {
	if !bytes.HasPrefix(b, []byte("HTTP/1.1 4")) && !bytes.HasPrefix(b, []byte("HTTP/1.1 5")) {
		return nil, false
	}
	line, rest, found := bytes.Cut(b, []byte("\r\n"))
	switch {
	case !found:
		return nil, false
	case bytes.HasPrefix(rest, []byte(netHTTPErrorHeaders[len("\r\n"):])): // (the line's own CRLF was cut)
		return line, true
	case bytes.Equal(line, []byte("HTTP/1.1 417 Expectation Failed")):
		head, _, complete := bytes.Cut(rest, []byte("\r\n\r\n"))
		return line, complete && !bytes.Contains(head, []byte("Request-Id:"))
	}
	return nil, false
}

// CloseWrite lets net/http half-close the connection after an early answer, so
// that the client reads the answer before the connection is reset.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// refused is the whole answer to a request net/http refused, whose own answer
// had the status line ("HTTP/1.1 431 Request Header Fields Too Large"): the
// server's, from serveRefused, on a connection net/http then closes.
func (s *Server) refused(statusLine []byte) []byte {
	a := &rawAnswer{header: http.Header{}}
	s.serveRefused(a, string(statusLine))
	res := http.Response{StatusCode: a.status, ProtoMajor: 1, ProtoMinor: 1, Header: a.header,
		Body: io.NopCloser(&a.body), ContentLength: int64(a.body.Len()), Close: true}
	var out bytes.Buffer
	_ = res.Write(&out) // a bytes.Buffer takes every write
	return out.Bytes()
}

// rawAnswer is an http.ResponseWriter that keeps the answer, for refused to
// write to the connection itself.
type rawAnswer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (a *rawAnswer) Header() http.Header { return a.header }

func (a *rawAnswer) WriteHeader(status int) {
	if a.status == 0 {
		a.status = status
	}
}

func (a *rawAnswer) Write(b []byte) (int, error) {
	a.WriteHeader(http.StatusOK)
	return a.body.Write(b)
}
