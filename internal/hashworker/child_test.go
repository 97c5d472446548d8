package hashworker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/warehouse-api/warehouse/auth"
)

func frameOf(j job) []byte { return appendRequest(nil, &j) }

func paramsOf(j job) auth.Params {
	return auth.Params{Memory: j.memory, Iterations: j.iterations, Parallelism: j.parallelism, KeyLen: j.keyLen}
}

func goodJob() job {
	return job{id: 7, iterations: 1, memory: 64, parallelism: 1, keyLen: 32, salt: []byte("0123456789abcdef"), password: []byte("glinteco")}
}

// rawFrame is a length prefix and a body, whatever they say.
func rawFrame(n uint32, body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, n), body...)
}

// readAnswers decodes every answer frame in b.
func readAnswers(t *testing.T, b []byte) (ids []uint64, statuses []byte, payloads [][]byte) {
	t.Helper()
	r := bytes.NewReader(b)
	for {
		body, err := readFrame(r, nil, answerHeaderLen, maxAnswerLen)
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("answer stream: %v", err)
		}
		id, status, payload, err := parseAnswer(body)
		if err != nil {
			t.Fatalf("answer: %v", err)
		}
		ids, statuses, payloads = append(ids, id), append(statuses, status), append(payloads, payload)
	}
}

func TestServe(t *testing.T) {
	t.Parallel()
	a, b := goodJob(), goodJob()
	b.id, b.password, b.keyLen = 8, nil, 64
	bad := goodJob()
	bad.id, bad.memory = 9, 0xFFFFFFFF
	in := bytes.Join([][]byte{frameOf(a), frameOf(bad), frameOf(b)}, nil)
	var out bytes.Buffer
	if err := Serve(bytes.NewReader(in), &out); err != nil {
		t.Fatalf("Serve() = %v", err)
	}
	ids, statuses, payloads := readAnswers(t, out.Bytes())
	if len(ids) != 3 || ids[0] != 7 || ids[1] != 9 || ids[2] != 8 {
		t.Fatalf("answer ids = %v, want [7 9 8]", ids)
	}
	for i, j := range []job{a, {}, b} {
		if i == 1 {
			if statuses[i] != statusRefused {
				t.Errorf("job out of range: status %d, want refused", statuses[i])
			}
			continue
		}
		want := reference(j.password, j.salt, paramsOf(j))
		if statuses[i] != statusOK || !bytes.Equal(payloads[i], want) {
			t.Errorf("job %d: status %d, key %x; want %x", j.id, statuses[i], payloads[i], want)
		}
	}
}

// TestServeCorrupt feeds Serve streams that break the framing: each must
// be an error, never a panic, a hang or a large allocation.
func TestServeCorrupt(t *testing.T) {
	good := frameOf(goodJob())
	body := good[4:]
	withByte := func(i int, v byte) []byte {
		b := bytes.Clone(body)
		b[i] = v
		return rawFrame(uint32(len(b)), b)
	}
	tests := []struct {
		name string
		in   []byte
	}{
		{"huge length", rawFrame(0xFFFFFFFF, body)},
		{"length over the limit", rawFrame(maxRequestLen+1, make([]byte, maxRequestLen+1))},
		{"length under the header", rawFrame(requestHeaderLen-1, body[:requestHeaderLen-1])},
		{"half a length", good[:2]},
		{"truncated body", good[:len(good)-1]},
		{"length longer than the fields", rawFrame(uint32(len(body)+1), append(bytes.Clone(body), 0))},
		{"unknown version", withByte(0, 99)},
		{"salt length beyond the frame", withByte(22, 0xFF)},
		{"password length beyond the frame", withByte(len(body)-len("glinteco")-1, 0xFF)},
		{"good job then garbage", append(bytes.Clone(good), 0xde, 0xad, 0xbe, 0xef, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var out bytes.Buffer
			err := Serve(bytes.NewReader(tt.in), &out)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("Serve() = nil, want an error")
			}
			if !errors.Is(err, errFrame) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("Serve() = %v, want a frame error", err)
			}
			// Not parallel, so the allocation is this stream's (64 KiB of
			// argon2 for the good job, some buffers).
			if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
				t.Errorf("Serve() allocated %d bytes for a corrupt stream", n)
			}
		})
	}
}

func TestServeWriteError(t *testing.T) {
	t.Parallel()
	err := Serve(bytes.NewReader(frameOf(goodJob())), failingWriter{})
	if err == nil {
		t.Error("Serve() with a failing writer = nil")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }
