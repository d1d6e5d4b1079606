package reason

import "testing"

func TestEveryCodeHasBothMessages(t *testing.T) {
	t.Parallel()

	codes := append([]Code{Authentication, Connection, RateLimited, WrongEndpoint}, DeadLetterReasons...)
	for _, c := range codes {
		t.Run(string(c), func(t *testing.T) {
			t.Parallel()
			en, pt := c.Message(English), c.Message(Portuguese)
			if !c.Known() || en == "" || pt == "" || en == string(c) || en == pt && c != Conflict {
				t.Errorf("%s: en %q, pt-BR %q", c, en, pt)
			}
		})
	}
}

func TestContractMessages(t *testing.T) {
	t.Parallel()

	// The pt-BR messages CONTRACT.md fixes for the dead-letter reasons.
	want := map[Code]string{
		Malformed: "Comando inválido", UnknownOperation: "Operação desconhecida",
		InvalidEmail: "Email inválido", NotFound: "Recurso não encontrado",
		ValidationFailed: "Dados inválidos", Conflict: "Conflito",
		Rejected: "Recusado pelo Perfex", MaxDeliveries: "Tentativas esgotadas",
	}
	for c, msg := range want {
		if got := c.Message(Portuguese); got != msg {
			t.Errorf("%s pt-BR = %q, want %q", c, got, msg)
		}
	}
	if got := Code("nope").Message(English); got != "nope" {
		t.Errorf("unknown code message = %q", got)
	}
	if got := Malformed.Message("fr"); got != Malformed.Message(English) {
		t.Errorf("unsupported language gave %q", got)
	}
}
