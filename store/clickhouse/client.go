package clickhouse

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/cohortd/cohortd/compiler/chsql"
)

// Defaults applied by Open to zero Config fields.
const (
	DefaultDatabase    = "default"
	DefaultUser        = "default"
	DefaultTable       = "users"
	DefaultDialTimeout = 5 * time.Second
	DefaultReadTimeout = 5 * time.Minute
)

// Config says how to reach ClickHouse.
type Config struct {
	// Addr is HOST:PORT of the native protocol (9000, or 9440 with TLS).
	Addr string
	// Database holds the tables; default "default".
	Database string
	// User and Password authenticate; the user defaults to "default".
	User     string
	Password string
	// TLS, when set, encrypts the connection (nil: plain TCP).
	TLS *tls.Config
	// Compress turns on LZ4 compression of blocks (worth it over a network).
	Compress bool
	// DialTimeout bounds connecting (default 5 s); ReadTimeout bounds the
	// wait for each block from the server (default 5 min).
	DialTimeout time.Duration
	ReadTimeout time.Duration
	// Settings are ClickHouse settings sent with every query.
	Settings map[string]any
}

// Client is a pool of native-protocol connections to one ClickHouse server.
// Connections are opened on demand and re-opened after a failure, so a
// Client outlives a ClickHouse restart. A Client is safe for concurrent use.
type Client struct {
	conn driver.Conn
	cfg  Config
}

// Open returns a client for cfg. It does not connect: use Ping to check that
// ClickHouse answers.
func Open(cfg Config) (*Client, error) {
	if cfg.Addr == "" {
		return nil, errors.New("no ClickHouse address (HOST:PORT of the native protocol, e.g. 127.0.0.1:9000)")
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("ClickHouse address %q is not HOST:PORT: %w", cfg.Addr, err)
	}
	if cfg.Database == "" {
		cfg.Database = DefaultDatabase
	}
	if cfg.User == "" {
		cfg.User = DefaultUser
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	opts := &ch.Options{
		Protocol:    ch.Native,
		Addr:        []string{cfg.Addr},
		Auth:        ch.Auth{Database: cfg.Database, Username: cfg.User, Password: cfg.Password},
		TLS:         cfg.TLS,
		DialTimeout: cfg.DialTimeout,
		ReadTimeout: cfg.ReadTimeout,
		Settings:    ch.Settings(cfg.Settings),
		ClientInfo:  ch.ClientInfo{Products: []struct{ Name, Version string }{{Name: "cohortd", Version: "1"}}},
	}
	if cfg.Compress {
		opts.Compression = &ch.Compression{Method: ch.CompressionLZ4}
	}
	conn, err := ch.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("cannot open ClickHouse %s: %w", cfg.Addr, err)
	}
	return &Client{conn: conn, cfg: cfg}, nil
}

// Close closes every connection.
func (c *Client) Close() error { return c.conn.Close() }

// Addr returns the server address the client connects to.
func (c *Client) Addr() string { return c.cfg.Addr }

// Database returns the database the client's tables live in.
func (c *Client) Database() string { return c.cfg.Database }

// Ping checks that the server answers.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.conn.Ping(ctx); err != nil {
		return fmt.Errorf("cannot reach ClickHouse at %s: %w", c.cfg.Addr, err)
	}
	return nil
}

// ServerVersion returns the server's version, e.g. "18.16.1".
func (c *Client) ServerVersion(ctx context.Context) (string, error) {
	var v string
	if err := c.conn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		return "", fmt.Errorf("cannot ask ClickHouse at %s for its version: %w", c.cfg.Addr, err)
	}
	return v, nil
}

// Exec runs a statement that returns no rows (DDL, INSERT ... SELECT).
func (c *Client) Exec(ctx context.Context, query string) error {
	if err := c.conn.Exec(ctx, query); err != nil {
		return fmt.Errorf("ClickHouse at %s: %w", c.cfg.Addr, err)
	}
	return nil
}

// Tables lists the tables of the client's database, sorted.
func (c *Client) Tables(ctx context.Context) ([]string, error) {
	rows, err := c.conn.Query(ctx, "SELECT name FROM system.tables WHERE database = "+String(c.cfg.Database)+" ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("cannot list the tables of %s: %w", Ident(c.cfg.Database), err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("cannot list the tables of %s: %w", Ident(c.cfg.Database), err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot list the tables of %s: %w", Ident(c.cfg.Database), err)
	}
	return out, nil
}

// QualifiedName returns the quoted `database`.`table` name of a table of
// the client's database.
func (c *Client) QualifiedName(table string) string {
	return Ident(c.cfg.Database) + "." + Ident(table)
}

// Ident quotes a ClickHouse identifier with backquotes (the same quoting as
// the compiler's SQL backend: both use chsql).
func Ident(name string) string { return chsql.Ident(name) }

// String quotes a ClickHouse string literal: \ and ' escaped, control bytes
// as \xHH.
func String(s string) string { return chsql.String(s) }
