package perfexsim

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// maxBody is the most of a request body the simulator reads.
const maxBody = 1 << 20

// apiPrefix is where the REST module's routes live.
const apiPrefix = "/api/"

// route is the endpoint a path names.
type route struct {
	// name is RouteContact, RoutePermissions or RouteOther.
	name string
	// id is the contact id of RouteContact, 0 when the path segment is not
	// a positive number (and so names no contact).
	id int64
}

// matchRoute maps a URL path to an endpoint. A trailing slash is allowed,
// as CodeIgniter's router allows it.
func matchRoute(path string) route {
	p := strings.TrimSuffix(path, "/")

	if p == RoutePermissions {
		return route{name: RoutePermissions}
	}

	seg, ok := strings.CutPrefix(p, apiPrefix+"contacts/")
	if !ok || seg == "" || strings.Contains(seg, "/") {
		return route{name: RouteOther}
	}

	id, err := strconv.ParseInt(seg, 10, 64)
	if err != nil || id <= 0 {
		id = 0
	}
	return route{name: RouteContact, id: id}
}

// exchange is one request with what has been decided about it.
type exchange struct {
	w     http.ResponseWriter
	r     *http.Request
	route route
	body  []byte

	// status is what was served, 0 while nothing was.
	status int
}

// readBody reads the request body, up to maxBody. It reports false when
// the client went away while sending it.
func (ex *exchange) readBody() bool {
	b, err := io.ReadAll(io.LimitReader(ex.r.Body, maxBody))
	ex.body = b
	return err == nil
}

// send writes rep with the rate-limit headers of rs.
func (ex *exchange) send(rep reply, rs rateState, warning bool) {
	ex.status = rep.status
	rep.write(ex.w, rs, warning)
}

// reset drops the connection with a TCP reset and answers nothing.
func (ex *exchange) reset() {
	resetConn(ex.hijack())
}

// resetConn closes conn with a TCP reset.
func resetConn(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		// Linger 0 makes Close send RST instead of FIN.
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// hijack takes the connection from the HTTP server. When the server cannot
// hand it over (HTTP/2, a recorder), the request is aborted instead, which
// also leaves the client without an answer.
func (ex *exchange) hijack() net.Conn {
	conn, _, err := http.NewResponseController(ex.w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}

	if nc, ok := conn.(interface{ NetConn() net.Conn }); ok {
		return nc.NetConn()
	}
	return conn
}
