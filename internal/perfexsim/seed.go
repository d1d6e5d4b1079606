package perfexsim

import (
	"fmt"
	"time"
)

// Contact ids of the seed data that refuse updates (see the package
// documentation).
var (
	seedLocked   = []int64{16, 33}
	seedReadOnly = []int64{17, 34}
)

// seedCustomers are the customers the seed data creates; the last one has
// no contacts.
var seedCustomers = []int64{1, 2, 3, 4, 5, 6, 7}

// SeedLockedIDs returns the seeded contacts whose updates answer 409
// "Record was modified by another user".
func SeedLockedIDs() []int64 { return append([]int64(nil), seedLocked...) }

// SeedReadOnlyIDs returns the seeded contacts whose updates answer 200
// {"status":false,"message":"Contact Update Fail."}.
func SeedReadOnlyIDs() []int64 { return append([]int64(nil), seedReadOnly...) }

// SeedCustomerIDs returns the ids of the seeded customers.
func SeedCustomerIDs() []int64 { return append([]int64(nil), seedCustomers...) }

// SeedPassword returns the portal password of seeded contact id, "" for
// the contacts seeded without one (every sixth id).
func SeedPassword(id int64) string {
	if _, ok := seedHashes[id]; !ok {
		return ""
	}
	return fmt.Sprintf("sim-pass-%02d", id)
}

// seedContact is one fictitious contact. flags holds the seven
// notification flags as '1'/'0' in flagFields order.
type seedContact struct {
	id, customer                     int64
	first, last, email, title, phone string
	primary                          bool
	flags                            string
	perms                            []int
	verified, active                 bool
	direction                        string
}

// seedContacts are fictitious people. The addresses use the example.com and
// example.com.br domains. The US phone numbers are in 555-0100 to 555-0199,
// kept for fiction; the Brazilian ones follow the placeholder pattern of
// docs/perfex-wire.md.
var seedContacts = []seedContact{
	{1, 1, "Ana", "Souza", "ana.souza@example.com.br", "Gerente",
		"+55 11 90000-0001", true, "1110011", []int{1, 2, 3, 4, 5, 6}, true, true, ""},
	{2, 1, "Bruno", "Carvalho", "bruno.carvalho@example.com.br", "Analista de Compras",
		"+55 11 90000-0002", false, "1100000", []int{1, 2}, true, true, ""},
	{3, 1, "Camila", "Ribeiro", "camila.ribeiro@example.com.br", "Diretora Financeira",
		"+55 11 90000-0003", false, "1010000", []int{1, 3}, true, true, "ltr"},
	{4, 1, "Diego", "Almeida", "diego.almeida@example.com.br", "Assistente Administrativo",
		"", false, "0000001", []int{5}, true, true, ""},
	{5, 1, "Fernanda", "Lima", "fernanda.lima@example.com.br", "Coordenadora de Projetos",
		"+55 11 90000-0005", false, "0000110", []int{5, 6}, false, true, ""},
	{6, 1, "Gustavo", "Pereira", "gustavo.pereira@example.com.br", "Contador",
		"+55 11 90000-0006", false, "1000000", []int{1}, true, true, ""},
	{7, 2, "Alice", "Morgan", "alice.morgan@example.com", "Office Manager",
		"+1 202-555-0107", true, "1111111", []int{1, 2, 3, 4, 5, 6}, true, true, "ltr"},
	{8, 2, "Benjamin", "Hart", "benjamin.hart@example.com", "Procurement Lead",
		"+1 202-555-0108", false, "0100000", []int{2, 4}, true, true, ""},
	{9, 2, "Chloe", "Bennett", "Chloe.Bennett@example.com", "Finance Director",
		"+1 202-555-0109", false, "1010000", []int{1, 3}, true, true, ""},
	{10, 2, "Daniel", "Brooks", "daniel.brooks@example.com", "IT Administrator",
		"+1 202-555-0110", false, "0000000", nil, true, true, ""},
	{11, 2, "Emily", "Carter", "emily.carter@example.com", "Project Coordinator",
		"+1 202-555-0111", false, "0000110", []int{6}, false, true, ""},
	{12, 2, "Frank", "Dawson", "frank.dawson@example.com", "Accountant",
		"+1 202-555-0112", false, "1000000", []int{1}, true, true, ""},
	{13, 3, "Helena", "Martins", "helena.martins@example.com.br", "Sócia-diretora",
		"+55 11 90000-0013", true, "1110011", []int{1, 2, 3, 5}, true, true, ""},
	{14, 3, "Igor", "Costa", "igor.costa@example.com.br", "Supervisor de Logística",
		"+55 11 90000-0014", false, "0000001", []int{5}, true, true, ""},
	{15, 3, "Juliana", "Rocha", "juliana.rocha@example.com.br", "Analista Fiscal",
		"+55 11 90000-0015", false, "1001000", []int{1, 3}, true, true, ""},
	{16, 3, "Lucas", "Ferreira", "lucas.ferreira@example.com.br", "Comprador",
		"+55 11 90000-0016", false, "0100000", []int{2}, true, true, ""},
	{17, 3, "Mariana", "Gomes", "mariana.gomes@example.com.br", "Secretária Executiva",
		"+55 11 90000-0017", false, "1100001", []int{1, 2, 5}, true, true, ""},
	{18, 3, "Nicolas", "Barbosa", "nicolas.barbosa@example.com.br", "Técnico de Suporte",
		"+55 11 90000-0018", false, "0000001", []int{5}, true, true, ""},
	{19, 4, "Grace", "Whitfield", "grace.whitfield@example.com", "Operations Manager",
		"+1 202-555-0119", true, "1110111", []int{1, 2, 3, 4, 5, 6}, true, true, ""},
	{20, 4, "Henry", "Lawson", "henry.lawson@example.com", "Buyer",
		"", false, "0100000", []int{2, 4}, true, true, ""},
	{21, 4, "Isabel", "Turner", "isabel.turner@example.com", "Controller",
		"+1 202-555-0121", false, "1010000", []int{1, 3}, true, true, ""},
	{22, 4, "Jack", "Sullivan", "jack.sullivan@example.com", "Support Engineer",
		"+1 202-555-0122", false, "0000001", []int{5}, true, false, ""},
	{23, 4, "Katherine", "Wells", "katherine.wells@example.com", "Marketing Lead",
		"+1 202-555-0123", false, "0001000", []int{4}, true, true, "ltr"},
	{24, 4, "Liam", "Fletcher", "liam.fletcher@example.com", "Warehouse Supervisor",
		"+1 202-555-0124", false, "0000000", nil, true, true, ""},
	{25, 5, "Otávio", "Mendes", "otavio.mendes@example.com.br", "Diretor Comercial",
		"+55 11 90000-0025", true, "1111011", []int{1, 2, 3, 4, 6}, true, true, ""},
	{26, 5, "Patrícia", "Nogueira", "patricia.nogueira@example.com.br", "Analista de RH",
		"+55 11 90000-0026", false, "0000000", []int{5}, true, true, ""},
	{27, 5, "Rafael", "Teixeira", "rafael.teixeira@example.com.br", "Engenheiro de Campo",
		"+55 11 90000-0027", false, "0000110", []int{5, 6}, true, true, ""},
	{28, 5, "Sofia", "Araújo", "sofia.araujo@example.com.br", "Advogada",
		"+55 11 90000-0028", false, "0010000", []int{3}, true, true, ""},
	{29, 5, "Margaret", "Ellis", "margaret.ellis@example.com", "Account Manager",
		"+1 202-555-0129", false, "1100000", []int{1, 2}, false, true, ""},
	{30, 5, "Nathan", "Price", "nathan.price@example.com", "Consultant",
		"+1 202-555-0130", false, "0000010", []int{6}, true, true, "rtl"},
	{31, 6, "Thiago", "Moreira", "thiago.moreira@example.com.br", "Representante",
		"+55 11 90000-0031", false, "1100000", []int{1, 2, 4}, true, true, ""},
	{32, 6, "Vitória", "Cardoso", "vitoria.cardoso@example.com.br", "Assistente Comercial",
		"+55 11 90000-0032", false, "0000001", []int{5}, true, true, ""},
	{33, 6, "Oliver", "Grant", "oliver.grant@example.com", "Sales Representative",
		"+1 202-555-0133", false, "1000000", []int{1}, true, true, ""},
	{34, 6, "Penelope", "Shaw", "penelope.shaw@example.com", "Analyst",
		"+1 202-555-0134", false, "0110000", []int{2, 3}, true, true, ""},
	{35, 6, "Renata", "Duarte", "renata.duarte@example.com.br", "Gerente de Contas",
		"+55 11 90000-0035", false, "1111111", []int{1, 2, 3, 4, 5, 6}, true, true, ""},
	{36, 6, "Samuel", "Reed", "samuel.reed@example.com", "Intern",
		"+1 202-555-0136", false, "0000000", nil, true, false, ""},
}

// seedHashes are bcrypt hashes of SeedPassword(id), computed once and kept
// here so that seeding costs no hashing time.
var seedHashes = map[int64]string{
	1:  "$2y$08$2gayoJvtW9yT4So.tH2d3.d/Vqz8Rh7NuelO5Eku6vwouLSBIDIoa",
	2:  "$2y$08$Na2yLT0yLEpcJht94v6MWOBMQa7muOA6SOyZ2HRY0Nf7M9vuLOguq",
	3:  "$2y$08$1RXWmQshcQbelOMwc/BQteiqlWxlBOl/NI.AwmeaRiYPFoo4f//5y",
	4:  "$2y$08$gQs.3JhtBCAjazYX3nGj6uQoUw6l4tvc.KCR19PC44gkRJ4cek3Em",
	5:  "$2y$08$y9wi6S/nuXw2ghRD/RBAf.7wSBSC5cPF1zo5t8xIX6ZYEdSLVy.w2",
	7:  "$2y$08$8XGw9HVBRBr3FesM5S3esejXoGV/qzNfcRtjHW/zRvXkoMDfXbDm.",
	8:  "$2y$08$/O5Kqrlueq0Va1BSg73haeD4P7axxW9whBm5XH2.1Rsmp9m5LhQyG",
	9:  "$2y$08$8PzOftJQhIBSBVlvvwaUiOmWx3WV4EHl8lvKCNgLa4608I0/GWqRS",
	10: "$2y$08$xDrjyu65/jKFPBXXxr5w9evC.RKSSfm1rxWQuiFAFJ3PhmsJ8J0Fm",
	11: "$2y$08$NDogB4QbP/XJ8nFQUbGCbOj5cjetDe0MuxLnf.ooz/H3WlGajloTi",
	13: "$2y$08$9L9uAuZ7j1/PIYsjviwmIeFiVIXh5YcdJNWLL6tPqi716OAGck2JG",
	14: "$2y$08$.z.2wlYGtwrsc/eBs5QDE.Xq/bWTjSvnHqtj3kX.jEEnyCeJmWaQK",
	15: "$2y$08$.A7BKVe2H1uDkS/ZiK4sTuHWal2QMCXaZCpmmnBOkf.mZTCQRg/u.",
	16: "$2y$08$HT7ahteKDBiQrtmNi5BAe.xV9u387eX6uym3gLI/7yVR.GgXqSFgy",
	17: "$2y$08$/AXsmRcKSzzeuIzdpz7BkehouiHHI6bN0UcDn3nkbRcxm/agAiMAq",
	19: "$2y$08$Smg8mWGUVQu9wORKP4uuA.bwjOAgNcjCjVCps18ZoB0b/iMSlx8Ca",
	20: "$2y$08$Y4IZJfYY2IEj6JLBtzd.heUzqDIkdj4zT5hqDgLLx9y/6CCIVIomW",
	21: "$2y$08$wpfNNsn1GgJNbbY020JF0ewP5wJXb/adMd/ZgXopVgNQ74v73Q7T2",
	22: "$2y$08$h84nE0WcLYUIlKpfklHOCeQaLNotSJad0pfgM1XfVUJLkAwhkU.SO",
	23: "$2y$08$Y2VyfQ5gJjVuSoNAoQwxVujZ9kbZd8nEZaekyGi3AzHdfx90S0jxi",
	25: "$2y$08$N4b3FBWktLbHKlvjnaUM2.bjP0Djlabf2zQSx/3h/E0j8hXGafGU2",
	26: "$2y$08$AgwfTV/0A7lUlzEcKBBHF.OAdLmrxagOuRq/UWDsopnave6myQIDy",
	27: "$2y$08$ERJTZOFprBEcVxPxQHoCeeQkjctd52tPKtaz6Ozmve5GvXBYU1AL2",
	28: "$2y$08$U0dBOhvfSj8ltGlFMg1KJ.vSdLvAeSnejUER2MKNQMTXCbCxYHB6q",
	29: "$2y$08$ElnlGhzpulXEXS3t7x6Y8uU3UZ.O6vdeQ.v9sDtCVxY/SsUkLM3Da",
	31: "$2y$08$0.M/oZAWRi7Z2pFiL0JooeBmx9Hezh3WjOeJhwt6nvo5G5fD92V/m",
	32: "$2y$08$XWrX93g2m.OStHGvpp/PY.0H8qbRkBW9MiLfmOBg/fL9Pv.Mriy4S",
	33: "$2y$08$Z8wRR85iNbw/cAz39Xm9p.f3twAni2DbTXkyNexdLc7xfo0CnJgRG",
	34: "$2y$08$Ja2ji8.fExBtbr7pSARRROvZJrUdch8LQborzjZCcoswoGZqsW5d2",
	35: "$2y$08$UXndofBW17HQAxflFvY7EuGSTB3/cHOVjc3S5zS6l9Lav/UhpLzwq",
}

// seedEpoch is when the first seeded contact was created.
var seedEpoch = time.Date(2025, time.March, 1, 10, 0, 0, 0, time.UTC)

// seed fills s with the seed data.
func (s *Sim) seed() {
	for _, id := range seedCustomers {
		s.store.addCustomer(id)
	}

	for _, sc := range seedContacts {
		s.store.put(sc.contact())
		if h, ok := seedHashes[sc.id]; ok {
			s.passwords.remember(h, []byte(SeedPassword(sc.id)))
		}
	}

	for _, id := range seedLocked {
		s.Lock(id)
	}
	for _, id := range seedReadOnly {
		s.ReadOnly(id)
	}
}

// contact builds the stored contact of sc.
func (sc seedContact) contact() Contact {
	created := seedEpoch.Add(time.Duration(sc.id-1) * 26 * time.Hour)
	c := Contact{
		ID:           sc.id,
		UserID:       sc.customer,
		IsPrimary:    sc.primary,
		FirstName:    sc.first,
		LastName:     sc.last,
		Email:        sc.email,
		PhoneNumber:  sc.phone,
		Title:        sc.title,
		DateCreated:  created,
		PasswordHash: seedHashes[sc.id],
		Active:       sc.active,
		Direction:    sc.direction,
		Permissions:  sc.perms,
	}
	if sc.verified {
		c.EmailVerifiedAt = created
	}
	if sc.id%4 == 1 {
		// Some contacts have used the portal. 192.0.2.0/24 is reserved for
		// documentation.
		c.LastLogin = created.Add(72 * time.Hour)
		c.LastIP = fmt.Sprintf("192.0.2.%d", sc.id)
	}

	flags := []*bool{
		&c.InvoiceEmails, &c.EstimateEmails, &c.CreditNoteEmails,
		&c.ContractEmails, &c.TaskEmails, &c.ProjectEmails, &c.TicketEmails,
	}
	for i, f := range flags {
		*f = sc.flags[i] == '1'
	}
	return c
}
