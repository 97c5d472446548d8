// Package hashworker computes argon2id keys in child processes, so that a
// login flood's hashing runs at a lower CPU priority than the server's
// requests and its garbage stays out of the server's heap.
//
// The server starts a Pool of children (the same binary, with a command
// that calls PrepareChild and Serve); Pool.Key has the shape of
// auth.KeyFunc. Parent and child speak a small binary protocol over the
// child's stdin and stdout: one request frame per job, one answer frame
// per request, in order.
package hashworker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/warehouse-api/warehouse/auth"
)

// protocolVersion is the first byte of every request, so a child from
// another build refuses a job instead of misreading it.
const protocolVersion = 1

// Limits on what a frame may ask for, so that a corrupt stream cannot make
// either side allocate gigabytes. Memory, iterations and parallelism match
// the ranges `warehouse serve` accepts for its own parameters (which are
// wider than those auth accepts from a stored hash); salt and key lengths
// match what auth accepts from a stored hash.
const (
	maxPasswordLen = auth.MaxPasswordLen
	maxSaltLen     = 1024
	maxKeyLen      = 1024
	minMemory      = 8       // KiB, argon2's minimum per lane
	maxMemory      = 4 << 20 // KiB, 4 GiB
	maxIterations  = 100
	maxErrorLen    = 256

	// version, id, iterations, memory, parallelism, key length, salt length, password length
	requestHeaderLen = 1 + 8 + 4 + 4 + 1 + 4 + 2 + 2
	maxRequestLen    = requestHeaderLen + maxSaltLen + maxPasswordLen
	// id, status
	answerHeaderLen = 8 + 1
	maxAnswerLen    = answerHeaderLen + max(maxKeyLen, maxErrorLen)
)

// Answer statuses.
const (
	statusOK      = 0
	statusRefused = 1 // the job was well framed but out of range; the worker lives on
)

// errFrame is wrapped by every refusal of a malformed frame.
var errFrame = errors.New("hashworker: malformed frame")

// job is one argon2id computation.
type job struct {
	id          uint64
	iterations  uint32
	memory      uint32 // KiB
	parallelism uint8
	keyLen      uint32
	salt        []byte
	password    []byte
}

// check refuses parameters outside the limits.
func (j *job) check() error {
	switch {
	case len(j.password) > maxPasswordLen:
		return fmt.Errorf("hashworker: password longer than %d bytes", maxPasswordLen)
	case len(j.salt) > maxSaltLen:
		return fmt.Errorf("hashworker: salt longer than %d bytes", maxSaltLen)
	case j.keyLen < 1 || j.keyLen > maxKeyLen:
		return fmt.Errorf("hashworker: key length %d out of range 1..%d", j.keyLen, maxKeyLen)
	case j.parallelism < 1:
		return errors.New("hashworker: parallelism must be at least 1")
	case j.memory < minMemory*uint32(j.parallelism) || j.memory > maxMemory:
		return fmt.Errorf("hashworker: memory %d KiB out of range %d..%d", j.memory, minMemory*uint32(j.parallelism), maxMemory)
	case j.iterations < 1 || j.iterations > maxIterations:
		return fmt.Errorf("hashworker: iterations %d out of range 1..%d", j.iterations, maxIterations)
	}
	return nil
}

// appendRequest appends j as a length-prefixed request frame.
func appendRequest(b []byte, j *job) []byte {
	n := requestHeaderLen + len(j.salt) + len(j.password)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	b = append(b, protocolVersion)
	b = binary.BigEndian.AppendUint64(b, j.id)
	b = binary.BigEndian.AppendUint32(b, j.iterations)
	b = binary.BigEndian.AppendUint32(b, j.memory)
	b = append(b, j.parallelism)
	b = binary.BigEndian.AppendUint32(b, j.keyLen)
	b = binary.BigEndian.AppendUint16(b, uint16(len(j.salt)))
	b = append(b, j.salt...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(j.password)))
	return append(b, j.password...)
}

// readFrame reads one length-prefixed frame of at most maxLen bytes into
// buf (grown as needed) and returns its body. A stream that ends exactly
// between frames gives io.EOF.
func readFrame(r io.Reader, buf []byte, minLen, maxLen int) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err // io.EOF only when no byte of a new frame came
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < uint32(minLen) || n > uint32(maxLen) {
		return nil, fmt.Errorf("%w: length %d out of range %d..%d", errFrame, n, minLen, maxLen)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("%w: truncated: %w", errFrame, noEOF(err))
	}
	return buf, nil
}

// noEOF turns io.EOF inside a frame into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseRequest decodes a request body. The job's salt and password alias
// body.
func parseRequest(body []byte) (job, error) {
	var j job
	if len(body) < requestHeaderLen {
		return j, fmt.Errorf("%w: request too short", errFrame)
	}
	if body[0] != protocolVersion {
		return j, fmt.Errorf("%w: protocol version %d, want %d", errFrame, body[0], protocolVersion)
	}
	j.id = binary.BigEndian.Uint64(body[1:])
	j.iterations = binary.BigEndian.Uint32(body[9:])
	j.memory = binary.BigEndian.Uint32(body[13:])
	j.parallelism = body[17]
	j.keyLen = binary.BigEndian.Uint32(body[18:])
	rest := body[22:]
	saltLen := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if saltLen > len(rest)-2 {
		return j, fmt.Errorf("%w: salt length %d beyond the frame", errFrame, saltLen)
	}
	j.salt, rest = rest[:saltLen], rest[saltLen:]
	pwLen := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if pwLen != len(rest) {
		return j, fmt.Errorf("%w: password length %d does not fill the frame (%d bytes left)", errFrame, pwLen, len(rest))
	}
	j.password = rest
	return j, nil
}

// appendAnswer appends a length-prefixed answer frame: the key, or with
// statusRefused a reason (never containing the password).
func appendAnswer(b []byte, id uint64, status byte, payload []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(answerHeaderLen+len(payload)))
	b = binary.BigEndian.AppendUint64(b, id)
	b = append(b, status)
	return append(b, payload...)
}

// parseAnswer decodes an answer body; payload aliases body.
func parseAnswer(body []byte) (id uint64, status byte, payload []byte, err error) {
	if len(body) < answerHeaderLen {
		return 0, 0, nil, fmt.Errorf("%w: answer too short", errFrame)
	}
	id, status, payload = binary.BigEndian.Uint64(body), body[8], body[answerHeaderLen:]
	switch {
	case status == statusOK && (len(payload) < 1 || len(payload) > maxKeyLen):
		return 0, 0, nil, fmt.Errorf("%w: key of %d bytes", errFrame, len(payload))
	case status != statusOK && status != statusRefused:
		return 0, 0, nil, fmt.Errorf("%w: unknown status %d", errFrame, status)
	}
	return id, status, payload, nil
}
