package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/term"
)

// input reads what a command asks the user for: from the terminal with
// prompts (passwords without echo), or line by line from piped stdin.
type input struct {
	io  IO
	r   *bufio.Reader
	tty bool
	fd  int
}

func newInput(io IO) *input {
	in := &input{io: io}
	stdin := io.Stdin
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	in.r = bufio.NewReader(stdin)
	if f, ok := stdin.(interface{ Fd() uintptr }); ok && term.IsTerminal(int(f.Fd())) {
		in.tty, in.fd = true, int(f.Fd())
	}
	return in
}

// line asks for one line. The prompt is shown only on a terminal: piped
// input needs none.
func (in *input) line(prompt, what string) (string, error) {
	if in.tty {
		fmt.Fprint(in.io.Stderr, prompt)
	}
	s, err := in.r.ReadString('\n')
	if errors.Is(err, io.EOF) && s != "" {
		err = nil
	}
	if errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the %s: stdin ended before it was given", what)
	}
	if err != nil {
		return "", fmt.Errorf("read the %s: %w", what, err)
	}
	return strings.TrimRight(s, "\r\n"), nil
}

// password asks for a password: without echo on a terminal, else as one
// line of stdin.
func (in *input) password(prompt string) (string, error) {
	if !in.tty {
		return in.line(prompt, "password")
	}
	fmt.Fprint(in.io.Stderr, prompt)
	raw, err := term.ReadPassword(in.fd)
	fmt.Fprintln(in.io.Stderr)
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	return string(raw), nil
}

// newPassword asks for a password to set; on a terminal, twice, so a typo
// does not lock anyone out.
func (in *input) newPassword() (string, error) {
	p, err := in.password("Password: ")
	if err != nil || !in.tty {
		return p, err
	}
	again, err := in.password("Repeat the password: ")
	if err != nil {
		return "", err
	}
	if again != p {
		return "", errors.New("the passwords do not match")
	}
	return p, nil
}

// passwordStdin reads all of stdin as the password (--password-stdin), less
// one trailing newline.
func (in *input) passwordStdin() (string, error) {
	raw, err := io.ReadAll(in.r)
	if err != nil {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	p := strings.TrimSuffix(strings.TrimSuffix(string(raw), "\n"), "\r")
	if p == "" {
		return "", errors.New("--password-stdin: stdin is empty; pipe the password in, as in: printf '%s' \"$PASSWORD\" | aigate <command> --password-stdin")
	}
	return p, nil
}
