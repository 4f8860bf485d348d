//! The built-in word lists, as data: stop words per language, and the guardrail phrases
//! (requests for a person, actions the agent cannot take, complaints) in every supported
//! language. `brain.guardrails.*` in the config replaces a phrase list.
//!
//! Guardrail phrases are matched on lower-cased, accent-folded words, not stemmed, so they do
//! not depend on the detected language: a word ending in `*` matches every word it begins
//! (`cancel*`: cancel, cancelled, cancellation), a lone `*` allows up to four other words in
//! between (`change * address`: "change my shipping address"), other words must follow each
//! other. Write them without accents: "annul*", "parler a".

/// Words too common to carry meaning, by language (accent-folded). Question words such as
/// "where" and "when" and negations are kept: they change what a message asks. So is French
/// "ou" ("or"), which folds to the same word as "où" ("where").
#[rustfmt::skip]
pub const STOP_WORDS: &[(&str, &[&str])] = &[
    (
        "en",
        &[
            "want", "like", "need", "know", "a", "an", "and", "am", "are", "as", "at", "be",
            "been", "but", "by", "can", "could", "did", "do", "does", "for", "from", "had", "has",
            "have", "hello", "hey", "hi", "i", "if", "in", "into", "is", "it", "its", "just", "me",
            "my", "of", "on", "or", "our", "please", "so", "that", "the", "their", "them", "then",
            "there", "this", "to", "us", "was", "we", "were", "will", "with", "would", "you",
            "your", "s", "m", "ll", "d", "ve", "re", "thanks", "thank", "pls", "dear", "also",
            "any", "some", "get", "got",
        ],
    ),
    (
        "fr",
        &[
            "voudrais", "veux", "souhaite", "souhaiterais", "puis", "peux", "pouvez", "est-ce",
            "a", "au", "aux", "avec", "bonjour", "ce", "ces", "cette", "d", "dans", "de", "des",
            "du", "elle", "en", "est", "et", "etre", "il", "j", "je", "l", "la", "le", "les",
            "leur", "lui", "m", "ma", "mais", "me", "mes", "moi", "mon", "n", "ne", "nos", "notre",
            "nous", "on", "par", "pour", "qu", "que", "qui", "s", "sa", "se", "ses", "son", "sur",
            "t", "ta", "te", "tes", "toi", "ton", "tu", "un", "une", "vos", "votre", "vous", "y",
            "merci", "svp", "plait", "sil", "madame", "monsieur", "ai", "avez", "avoir", "suis",
            "sont", "etes",
        ],
    ),
    (
        "es",
        &[
            "quiero", "quisiera", "puedo", "pueden", "podria", "necesito", "a", "al", "con", "de",
            "del", "el", "en", "es", "esta", "este", "esto", "ha", "he", "hola", "la", "las", "le",
            "lo", "los", "me", "mi", "mis", "nos", "o", "para", "por", "que", "se", "su", "sus",
            "te", "tu", "tus", "un", "una", "unos", "unas", "y", "yo", "gracias", "favor", "usted",
            "ustedes", "vuestro", "buenos", "buenas", "dias", "hay", "ser", "estoy", "son",
        ],
    ),
    (
        "de",
        &[
            "mochte", "mochten", "kann", "konnen", "konnten", "wurde", "bitte", "am", "an", "auf",
            "aus", "bei", "bin", "bitte", "das", "dass", "dem", "den", "der", "des", "die", "du",
            "ein", "eine", "einem", "einen", "einer", "es", "fur", "hallo", "hat", "habe", "haben",
            "ich", "ihr", "ihre", "im", "in", "ist", "ja", "mein", "meine", "meinem", "meinen",
            "meiner", "mich", "mir", "mit", "sie", "sind", "und", "uns", "unser", "von", "vom",
            "zu", "zum", "zur", "danke", "guten", "tag", "sehr", "geehrte", "geehrter", "damen",
            "herren", "es", "sich", "auch", "noch",
        ],
    ),
    (
        "it",
        &[
            "vorrei", "voglio", "potete", "potrei", "il", "mio", "a", "al", "alla", "con", "da",
            "del", "della", "di", "e", "ho", "il", "in", "io", "l", "la", "le", "lo", "mi", "mia",
            "mio", "miei", "mie", "nel", "nella", "per", "sono", "su", "un", "una", "uno", "che",
            "ciao", "buongiorno", "grazie", "salve", "gli", "ha", "hanno", "si", "ti", "vi", "ci",
            "tuo", "vostro", "suo", "piacere", "favore", "cortesemente", "essere", "avere",
        ],
    ),
    (
        "pt",
        &[
            "quero", "gostaria", "preciso", "podem", "poderia", "a", "ao", "as", "com", "da",
            "das", "de", "do", "dos", "e", "em", "eu", "meu", "meus", "minha", "minhas", "na",
            "no", "nos", "o", "os", "ola", "obrigado", "obrigada", "para", "pelo", "pela", "por",
            "que", "se", "seu", "sua", "um", "uma", "voce", "voces", "favor", "bom", "dia", "boa",
            "tarde", "tenho", "ter", "ser", "estou", "esta", "foi",
        ],
    ),
    (
        "nl",
        &[
            "wil", "wilt", "zou", "kunnen", "kunt", "mag", "aan", "al", "bij", "de", "dat", "die",
            "een", "en", "het", "hoi", "hallo", "heb", "hebben", "heeft", "ik", "in", "is", "je",
            "jullie", "me", "met", "mij", "mijn", "na", "naar", "of", "om", "ons", "onze", "op",
            "te", "u", "uw", "van", "voor", "we", "wij", "ze", "zijn", "bedankt", "dank", "alvast",
            "graag", "alstublieft", "aub", "goedemiddag", "goedemorgen", "beste", "er", "ook",
            "nog",
        ],
    ),
];

/// Requests for a person. "talk to a", "hablar con" and the like are here on purpose: a
/// customer who asks to speak with someone wants someone.
#[rustfmt::skip]
pub const HUMAN: &[(&str, &[&str])] = &[
    (
        "en",
        &[
            "human", "humans", "real person", "a person", "actual person", "live person",
            "someone real", "representative", "live agent", "real agent", "human agent",
            "an agent", "speak to someone", "talk to someone", "speak with someone",
            "talk with someone", "speak to somebody", "talk to somebody", "talk to a",
            "speak to a", "speak with a", "talk with a", "talk to the", "speak to the",
            "speak with the", "talk to your", "speak to your", "operator", "not a bot",
            "not a robot", "stop the bot", "manager", "supervisor", "someone from your team",
            "customer service rep",
        ],
    ),
    (
        "fr",
        &[
            "un humain", "une personne", "vraie personne", "personne reelle", "un conseiller",
            "une conseillere", "un agent", "un operateur", "une operatrice", "un responsable",
            "le responsable", "un manager", "superieur", "parler a", "parler au", "parler avec",
            "pas un robot", "pas un bot",
        ],
    ),
    (
        "es",
        &[
            "un humano", "una persona", "persona real", "hablar con", "un agente", "un asesor",
            "una asesora", "un representante", "un supervisor", "el encargado", "un encargado",
            "el gerente", "un gerente", "alguien real", "no un robot", "no un bot",
            "atencion humana",
        ],
    ),
    (
        "de",
        &[
            "mensch", "menschen", "echte person", "echten person", "mitarbeiter*", "mit jemandem",
            "mit * sprechen", "mit * reden", "vorgesetzt*", "ansprechpartner", "kundenberater*",
            "kein bot", "kein roboter", "einen manager",
        ],
    ),
    (
        "it",
        &[
            "un umano", "una persona", "persona reale", "operatore", "operatrice", "parlare con",
            "un responsabile", "il responsabile", "un supervisore", "un agente", "non un bot",
            "un consulente",
        ],
    ),
    (
        "pt",
        &[
            "um humano", "uma pessoa", "pessoa real", "falar com", "atendente", "um agente",
            "um gerente", "um supervisor", "um representante", "nao um robo", "nao um bot",
        ],
    ),
    (
        "nl",
        &[
            "een mens", "echt persoon", "echte persoon", "medewerker", "spreken met", "met iemand",
            "iemand spreken", "een manager", "leidinggevende", "geen bot", "geen robot",
        ],
    ),
];

/// Requests for something the agent cannot do: cancel, change, add to, edit an order or an
/// address.
#[rustfmt::skip]
pub const NEEDS_ACTION: &[(&str, &[&str])] = &[
    (
        "en",
        &[
            "cancel*", "chang* * order", "chang* * address", "chang* * item", "chang* * size",
            "chang* * colour", "chang* * color", "chang* * quantity", "chang* * shipping",
            "chang* * delivery", "chang* * email", "chang* * name", "chang* * phone",
            "chang* * payment", "chang* * product", "updat* * address", "updat* * order", "modif*",
            "edit*", "add * order", "add * item", "added * order", "adding * order",
            "remov* * order", "remov* * item", "wrong address", "incorrect address",
            "different address", "new address", "address * wrong", "combin* * orders",
            "put * order * hold",
        ],
    ),
    (
        "fr",
        &[
            "annul*", "modifi*", "chang* * adresse", "chang* * commande", "chang* * article",
            "chang* * taille", "chang* * couleur", "chang* * quantite", "ajout*", "rajout*",
            "supprim* * article", "retir* * article", "mauvaise adresse", "nouvelle adresse",
            "adresse * erron*", "erreur * adresse",
        ],
    ),
    (
        "es",
        &[
            "cancel*", "anul*", "modific*", "cambi* * direccion", "cambi* * pedido",
            "cambi* * talla", "cambi* * color", "cambi* * cantidad", "agreg*", "anad*", "editar",
            "quit* * articulo", "direccion incorrecta", "direccion equivocada", "otra direccion",
            "nueva direccion",
        ],
    ),
    (
        "de",
        &[
            "stornier*", "storno", "abbestell*", "adresse * ander*", "ander* * adresse",
            "bestellung * ander*", "ander* * bestellung", "grosse * ander*", "lieferadresse",
            "hinzufug*", "bearbeit*", "falsche adresse", "neue adresse", "zusammenfass*",
        ],
    ),
    (
        "it",
        &[
            "annull*", "cancell*", "modific*", "cambi* * indirizzo", "cambi* * ordine",
            "cambi* * taglia", "cambi* * colore", "aggiung*", "indirizzo sbagliato",
            "nuovo indirizzo", "rimuover*",
        ],
    ),
    (
        "pt",
        &[
            "cancel*", "anul*", "alter* * endereco", "alter* * pedido", "mud* * endereco",
            "mud* * pedido", "troc* * endereco", "modific*", "adicion*", "acrescent*",
            "endereco errado", "endereco incorreto", "novo endereco",
        ],
    ),
    (
        "nl",
        &[
            "annuleer*", "annuler*", "wijzig*", "aanpass*", "ander* adres", "adres * veranderen",
            "toevoeg*", "bijbestell*", "verkeerd* adres", "nieuw adres",
        ],
    ),
];

/// Complaints about a damaged, faulty, wrong, missing or lost item.
#[rustfmt::skip]
pub const COMPLAINT: &[(&str, &[&str])] = &[
    (
        "en",
        &[
            "damag*", "broken", "broke", "cracked", "shattered", "defect*", "faulty", "torn",
            "ripped", "stain*", "leak*", "scratch*", "wrong item", "wrong product", "wrong colour",
            "wrong color", "wrong order", "wrong one", "sent * wrong", "received * wrong",
            "got * wrong", "not what i ordered", "missing", "never receiv*", "never arriv*",
            "never came", "never got", "lost", "stolen", "marked * delivered", "says * delivered",
            "doesn t work", "does not work", "not working", "stopped working", "fell apart",
            "poor quality", "complain*", "unacceptable", "disappoint*",
        ],
    ),
    (
        "fr",
        &[
            "abim*", "endommag*", "casse", "cassee", "casses", "cassees", "defectu*",
            "mauvais article", "mauvais produit", "mauvaise couleur", "pas le bon", "pas la bonne",
            "jamais recu*", "jamais arriv*", "manqu*", "perdu*", "vole", "ne fonctionne pas",
            "ne marche pas", "plainte", "inadmissible", "decu*", "tache*", "dechir*",
        ],
    ),
    (
        "es",
        &[
            "danad*", "roto", "rota", "rotos", "rotas", "defectuos*", "producto equivocado",
            "articulo equivocado", "equivocad*", "incorrect*", "nunca lleg*", "nunca recibi*",
            "falta*", "perdid*", "robad*", "no funciona", "queja", "reclamacion", "decepcion*",
            "mancha*",
        ],
    ),
    (
        "de",
        &[
            "beschadigt*", "kaputt", "defekt*", "zerbrochen", "gebrochen", "falsch* artikel",
            "falsch* produkt", "falsch* farbe", "falsch* bekommen", "falsch* geliefert",
            "nie angekommen", "nie erhalten", "nie bekommen", "fehlt", "verloren", "gestohlen",
            "funktioniert nicht", "beschwerde", "enttauscht", "fleck*",
        ],
    ),
    (
        "it",
        &[
            "danneggiat*", "rott*", "difett*", "sbagliat*", "mai arrivat*", "mai ricevut*",
            "manca", "mancant*", "perso", "smarrit*", "rubat*", "non funziona", "reclamo",
            "deluso", "delusa", "macchia*",
        ],
    ),
    (
        "pt",
        &[
            "danificad*", "quebrad*", "estragad*", "defeito*", "defeituos*", "errad*",
            "nunca chegou", "nunca receb*", "faltando", "falta", "extraviad*", "roubad*",
            "nao funciona", "reclama*", "decepcionad*", "mancha*",
        ],
    ),
    (
        "nl",
        &[
            "beschadigd*", "kapot", "defect*", "verkeerd* artikel", "verkeerd* product",
            "verkeerd* kleur", "verkeerd* geleverd", "nooit aangekomen", "nooit ontvangen",
            "ontbreekt", "ontbreken", "kwijt", "gestolen", "werkt niet", "klacht", "teleurgesteld",
            "vlek*",
        ],
    ),
];

/// Every phrase of a list, all languages.
pub fn all(list: &[(&str, &[&'static str])]) -> Vec<String> {
    list.iter()
        .flat_map(|(_, phrases)| phrases.iter().map(|p| p.to_string()))
        .collect()
}
