// Package reason is the catalogue of stable outcome and error codes that
// users of perfex-worker see: dead-letter reasons and the error classes an
// operator must recognise, each with a message in English and Brazilian
// Portuguese.
package reason

// Code is a stable, machine-readable code. Codes never change once
// published; messages may be reworded.
type Code string

// Dead-letter reasons (CONTRACT.md, "Dead letters out").
const (
	Malformed        Code = "malformed"
	UnknownOperation Code = "unknown_operation"
	InvalidEmail     Code = "invalid_email"
	NotFound         Code = "not_found"
	ValidationFailed Code = "validation_failed"
	Conflict         Code = "conflict"
	Rejected         Code = "rejected"
	MaxDeliveries    Code = "max_deliveries"
)

// Error classes that never dead-letter but that operators must recognise in
// logs and status output.
const (
	Authentication Code = "authentication"
	Connection     Code = "connection"
	RateLimited    Code = "rate_limited"
	WrongEndpoint  Code = "wrong_endpoint"
)

// Lang is a message language tag.
type Lang string

// Supported languages.
const (
	English    Lang = "en"
	Portuguese Lang = "pt-BR"
)

type messages struct{ en, ptBR string }

var catalogue = map[Code]messages{
	Malformed:        {"Malformed command", "Comando inválido"},
	UnknownOperation: {"Unknown operation", "Operação desconhecida"},
	InvalidEmail:     {"Invalid email", "Email inválido"},
	NotFound:         {"Resource not found", "Recurso não encontrado"},
	ValidationFailed: {"Invalid data", "Dados inválidos"},
	Conflict:         {"Conflict", "Conflito"},
	Rejected:         {"Rejected by Perfex", "Recusado pelo Perfex"},
	MaxDeliveries:    {"Delivery attempts exhausted", "Tentativas esgotadas"},
	Authentication:   {"Authentication failed", "Falha de autenticação"},
	Connection:       {"Cannot reach Perfex", "Não foi possível conectar ao Perfex"},
	RateLimited:      {"Rate limited by Perfex", "Limite de requisições do Perfex atingido"},
	WrongEndpoint:    {"Wrong Perfex API endpoint", "Endpoint da API do Perfex incorreto"},
}

// DeadLetterReasons lists the codes a dead letter can carry, in the order
// the contract lists them.
var DeadLetterReasons = []Code{
	Malformed, UnknownOperation, InvalidEmail, NotFound,
	ValidationFailed, Conflict, Rejected, MaxDeliveries,
}

// Known reports whether c is in the catalogue.
func (c Code) Known() bool {
	_, ok := catalogue[c]
	return ok
}

// Message returns the code's message in lang, falling back to English for
// an unsupported language and to the code itself for an unknown code.
func (c Code) Message(lang Lang) string {
	m, ok := catalogue[c]
	if !ok {
		return string(c)
	}
	if lang == Portuguese {
		return m.ptBR
	}
	return m.en
}
