package crawler

import (
	"io"
	"net/http"
	"sync"
)

// limitedTransport caps the requests in flight across every host of a scan: per-host
// politeness alone would let a scan of thousands of partners open thousands of
// connections at once.
type limitedTransport struct {
	next http.RoundTripper
	sem  chan struct{}
}

func (t *limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	select {
	case t.sem <- struct{}{}:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		<-t.sem
		return nil, err
	}
	// The slot is held until the body is read and closed.
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: func() { <-t.sem }}
	return resp, nil
}

type releasingBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}
