package guard

import (
	"strings"
	"unicode/utf8"
)

// langRules are the injection rules of French, Spanish, German, Portuguese and Italian,
// written as normalize leaves them (lowercase, accents folded: "précédentes" is
// "precedentes"). Nouns that also name a purchase order or a delivery ("commande", "pedido",
// "Bestellung", "consegne", "órdenes") are left out, so that a customer who asks to ignore
// a previous order is not flagged; so are phrases said with "my" ("mes instructions").
var langRules = []phraseRule{
	// French.
	{"prompt_injection", "tells the model to ignore its earlier instructions", 0.9, 3, []string{
		"ignore|ignorez|ignorer|oublie|oubliez|oublier|neglige|negligez|contourne|contournez|outrepasse|outrepassez|annule|annulez|abandonne|abandonnez",
		"instructions|instruction|consignes|consigne|directives|directive|regles|indications|prompt|programmation",
		"precedentes|precedents|precedente|anterieures|anterieurs|initiales|initiaux|originales|originelles|dessus|systeme|actuelles"}, "fr", nil},
	{"prompt_injection", "tells the model to ignore its instructions", 0.8, 1, []string{
		"ignore|ignorez|ignorer|oublie|oubliez|oublier|contourne|contournez|outrepasse|outrepassez",
		"tes|vos",
		"instructions|consignes|directives|regles|prompt|programmation"}, "fr", nil},
	{"prompt_extraction", "asks for the system prompt", 0.85, 4, []string{
		"montre|montrez|affiche|affichez|revele|revelez|repete|repetez|donne|donnez|dis|dites|ecris|ecrivez|imprime|imprimez|divulgue|divulguez|recite|recitez|partage|partagez|copie|copiez|communique|communiquez",
		"prompt|instructions|consignes|message|directives",
		"systeme|initiales|initial|initiaux|cachees|cache|secretes|secret|originales|originel|internes"}, "fr", []int{4, 1}},
	{"prompt_extraction", "asks for the system prompt", 0.8, 1, []string{
		"quel|quelles|quels|quelle", "est|sont", "ton|tes|votre|vos", "prompt|instructions|consignes",
		"systeme|initiales|initial|secretes|cachees"}, "fr", nil},
	{"jailbreak", "asks for role-play without restrictions", 0.85, 6, []string{
		"semblant|role|agis|agissez|comporte|comportez|incarne|incarnez|simule|simulez|pretends",
		"sans|aucune|aucun|affranchi|affranchie",
		"restriction|restrictions|limite|limites|limitation|limitations|filtre|filtres|regle|regles|censure|ethique|morale|tabou|tabous|contrainte|contraintes"}, "fr", nil},
	{"jailbreak", "declares the model unrestricted", 0.85, 2, []string{
		"tu|vous", "es|etes", "maintenant|desormais|dorenavant",
		"dan|debride|debridee|jailbreake|affranchi|affranchie|libere|liberee"}, "fr", nil},

	// Spanish.
	{"prompt_injection", "tells the model to ignore its earlier instructions", 0.9, 3, []string{
		"ignora|ignore|ignorar|ignoren|olvida|olvide|olvidar|olviden|omite|omita|descarta|descarte|desobedece|anula|anule",
		"instrucciones|instruccion|indicaciones|reglas|directrices|directivas|normas|prompt|pautas|consignas",
		"anteriores|previas|previos|iniciales|originales|sistema|arriba|precedentes"}, "es", nil},
	{"prompt_injection", "tells the model to ignore its instructions", 0.8, 1, []string{
		"ignora|ignore|ignorar|olvida|olvide|olvidar|descarta|descarte",
		"tus|sus",
		"instrucciones|indicaciones|reglas|directrices|directivas|normas|prompt|pautas"}, "es", nil},
	{"prompt_extraction", "asks for the system prompt", 0.85, 4, []string{
		"muestra|muestrame|muestre|revela|revelame|revele|repite|repita|imprime|dime|digame|escribe|escribeme|comparte|ensename|dame|copia|recita|divulga",
		"prompt|instrucciones|indicaciones|mensaje|reglas|directrices",
		"sistema|iniciales|inicial|ocultas|oculto|secretas|secreto|originales|internas"}, "es", []int{4, 1}},
	{"prompt_extraction", "asks for the system prompt", 0.8, 1, []string{
		"cual|cuales", "es|son", "tu|tus|su|sus", "prompt|instrucciones|mensaje|indicaciones",
		"sistema|iniciales|secretas|ocultas"}, "es", nil},
	{"jailbreak", "asks for role-play without restrictions", 0.85, 6, []string{
		"finge|finja|fingir|actua|actue|comportate|simula|simule|interpreta|interprete|papel",
		"sin|ninguna|ningun",
		"restricciones|restriccion|limites|limite|filtros|filtro|reglas|censura|etica|moral|limitaciones|tabues"}, "es", nil},
	{"jailbreak", "declares the model unrestricted", 0.85, 1, []string{
		"ahora|ya", "eres|estas", "dan|desbloqueado|jailbreak"}, "es", nil},

	// German. An imperative comes first ("Ignoriere alle vorherigen Anweisungen"), an
	// infinitive last ("alle vorherigen Anweisungen ignorieren").
	{"prompt_injection", "tells the model to ignore its earlier instructions", 0.9, 3, []string{
		"ignoriere|ignorier|ignorieren|ignoriert|vergiss|vergessen|vergesst|missachte|missachten|uberspringe|verwirf|verwerfen|umgehe|umgehen",
		"vorherigen|vorherige|bisherigen|bisherige|vorigen|obigen|fruheren|ursprunglichen|alle|deine|ihre|system",
		"anweisungen|anweisung|instruktionen|befehle|regeln|vorgaben|richtlinien|anordnungen|prompt|systemprompt|systemanweisungen"}, "de", nil},
	{"prompt_injection", "tells the model to ignore its earlier instructions", 0.9, 2, []string{
		"vorherigen|vorherige|bisherigen|bisherige|vorigen|obigen|fruheren|ursprunglichen",
		"anweisungen|anweisung|instruktionen|befehle|regeln|vorgaben|richtlinien|prompt",
		"ignorieren|ignoriere|ignorierst|vergessen|vergiss|vergisst|missachten|verwerfen"}, "de", nil},
	{"prompt_extraction", "asks for the system prompt", 0.85, 4, []string{
		"zeige|zeig|zeigen|gib|gebe|nenne|nennen|verrate|verraten|wiederhole|wiederholen|drucke|schreibe|schreib|enthulle|sag|sage|liste|kopiere",
		"systemprompt|systemanweisungen|systemanweisung|systemnachricht|initialprompt|ausgangsprompt|startanweisungen"}, "de", nil},
	{"prompt_extraction", "asks for the system prompt", 0.85, 4, []string{
		"zeige|zeig|zeigen|gib|gebe|nenne|nennen|verrate|verraten|wiederhole|wiederholen|drucke|schreibe|schreib|enthulle|sag|sage|liste|kopiere",
		"ursprunglichen|ursprungliche|geheimen|geheime|versteckten|versteckte|internen|interne|initialen|anfanglichen|system",
		"anweisungen|prompt|instruktionen|regeln|vorgaben|nachricht"}, "de", nil},
	{"prompt_extraction", "asks for the system prompt", 0.8, 1, []string{
		"was|wie", "ist|sind|lautet|lauten", "dein|deine|ihr|ihre",
		"systemprompt|systemanweisungen|systemnachricht|initialprompt"}, "de", nil},
	{"jailbreak", "asks for role-play without restrictions", 0.85, 8, []string{
		"tu|tue|verhalte|verhalt|agiere|simuliere|rolle",
		"ohne|keine|keinerlei",
		"einschrankungen|beschrankungen|regeln|grenzen|filter|zensur|moral|ethik|richtlinien|schranken|vorgaben"}, "de", nil},
	{"jailbreak", "declares the model unrestricted", 0.85, 2, []string{
		"du|sie", "bist|sind", "jetzt|nun|nunmehr",
		"dan|uneingeschrankt|unzensiert|entfesselt|jailbroken|ungefiltert"}, "de", nil},

	// Portuguese.
	{"prompt_injection", "tells the model to ignore its earlier instructions", 0.9, 3, []string{
		"ignore|ignora|ignorar|ignorem|esqueca|esquece|esquecer|desconsidere|desconsidera|descarte|descarta|despreze|despreza|anule",
		"instrucoes|instrucao|orientacoes|regras|diretrizes|diretivas|comandos|prompt",
		"anteriores|previas|iniciais|originais|sistema|acima|precedentes"}, "pt", nil},
	{"prompt_injection", "tells the model to ignore its instructions", 0.8, 1, []string{
		"ignore|ignora|ignorar|esqueca|esquece|esquecer|desconsidere|desconsidera|descarte",
		"suas|tuas|seus|teus",
		"instrucoes|orientacoes|regras|diretrizes|diretivas|prompt"}, "pt", nil},
	{"prompt_extraction", "asks for the system prompt", 0.85, 4, []string{
		"mostre|mostra|mostrar|revele|revela|repita|repete|imprima|diga|escreva|compartilhe|exiba|exibe|divulgue|copie|conte",
		"prompt|instrucoes|mensagem|regras|diretrizes|orientacoes",
		"sistema|iniciais|inicial|ocultas|secretas|originais|internas"}, "pt", []int{4, 1}},
	{"prompt_extraction", "asks for the system prompt", 0.8, 1, []string{
		"qual|quais", "e|sao", "seu|seus|sua|suas|teu|tua", "prompt|instrucoes|mensagem",
		"sistema|iniciais|secretas|ocultas"}, "pt", nil},
	{"jailbreak", "asks for role-play without restrictions", 0.85, 6, []string{
		"finja|finge|fingir|aja|atue|comporte|simule|interprete|papel",
		"sem|nenhuma|nenhum",
		"restricoes|restricao|limites|limite|filtros|filtro|regras|censura|etica|moral|limitacoes"}, "pt", nil},
	{"jailbreak", "declares the model unrestricted", 0.85, 1, []string{
		"agora|voce", "e|esta", "dan|desbloqueado|jailbreak"}, "pt", nil},

	// Italian.
	{"prompt_injection", "tells the model to ignore its earlier instructions", 0.9, 3, []string{
		"ignora|ignori|ignorare|ignorate|dimentica|dimentichi|dimenticare|dimenticate|scarta|tralascia|trascura|annulla|aggira|bypassa",
		"istruzioni|istruzione|indicazioni|regole|direttive|prompt|comandi",
		"precedenti|iniziali|originali|sistema|sopra|anteriori"}, "it", nil},
	{"prompt_injection", "tells the model to ignore its instructions", 0.8, 1, []string{
		"ignora|ignori|ignorare|dimentica|dimentichi|dimenticare|scarta|tralascia",
		"tue|sue|vostre",
		"istruzioni|indicazioni|regole|direttive|prompt"}, "it", nil},
	{"prompt_extraction", "asks for the system prompt", 0.85, 4, []string{
		"mostra|mostrami|mostrate|mostri|rivela|rivelami|ripeti|stampa|dimmi|scrivi|scrivimi|condividi|dammi|elenca|svela|svelami|copia|recita",
		"prompt|istruzioni|messaggio|regole|direttive",
		"sistema|iniziali|iniziale|nascoste|nascosto|segrete|segreto|originali|interne"}, "it", []int{4, 1}},
	{"prompt_extraction", "asks for the system prompt", 0.8, 1, []string{
		"qual|quale|quali", "e|sono", "tuo|tue|tua|tuoi|suo|sue", "prompt|istruzioni|messaggio",
		"sistema|iniziali|segrete|nascoste"}, "it", nil},
	{"jailbreak", "asks for role-play without restrictions", 0.85, 6, []string{
		"fingi|finga|fingere|comportati|agisci|simula|interpreta|impersona|ruolo",
		"senza|nessuna|nessun|priva|privo",
		"restrizioni|restrizione|limiti|limite|filtri|filtro|regole|censura|etica|morale|limitazioni|vincoli"}, "it", nil},
	{"jailbreak", "declares the model unrestricted", 0.85, 1, []string{
		"ora|adesso", "sei", "dan|sbloccato|jailbreak"}, "it", nil},
}

// firstPerson are "my" in English and the languages of langRules: "forget my earlier
// messages", "oubliez mes instructions précédentes" are a customer correcting themselves, not
// an injection.
var firstPerson = map[string]bool{
	"my": true, "our": true,
	"mes": true, "ma": true, "mon": true, "mis": true, "mi": true, "meine": true, "meinen": true,
	"meiner": true, "mein": true, "meinem": true, "minhas": true, "meus": true, "minha": true, "meu": true,
	"miei": true, "mie": true, "mia": true, "mio": true,
}

// negatedInside are negations that follow the verb ("Vergiss nicht die vorherigen
// Anweisungen", "n'ignore pas").
var negatedInside = map[string]bool{"nicht": true, "pas": true, "niemals": true, "jamais": true, "nunca": true, "mai": true}

// cjkRule is a Chinese or Japanese phrase: substrings from each step in order, with at most
// gap characters between consecutive steps. notBefore and notAfter are negations just
// before or after the phrase ("不要忽略", "無視しないで"); exclude are words that, near the
// phrase, make it the writer's own instructions or order ("我之前的", "私の").
type cjkRule struct {
	typ, what string
	score     float64
	gap       int
	steps     [][]string
	notBefore []string
	notAfter  []string
	exclude   []string
}

var (
	zhNotBefore = []string{"不要", "别", "別", "请勿", "請勿", "切勿", "不能", "不可", "勿", "不"}
	jaNotAfter  = []string{"ないで", "しないで", "しては", "ては", "せず", "するな", "しません", "ません", "なかった", "ないよう"}
	zhMine      = []string{"我"}
	jaMine      = []string{"私", "僕", "わたし", "自分"}
)

// cjkRules are the Chinese (simplified and traditional) and Japanese injection phrases.
var cjkRules = []cjkRule{
	// Chinese: verb, then which instructions, then the noun ("忽略之前的所有指令").
	{"prompt_injection", "tells the model to ignore its earlier instructions", 0.9, 6, [][]string{
		split("忽略|忽视|忽視|无视|無視|忘记|忘記|忘掉|不要理会|不要理會|跳过|跳過|绕过|繞過|放弃|放棄"),
		split("之前|以前|先前|上面|上述|以上|前面|此前|原来|原來|原先|所有|全部|一切|你的|系统|系統"),
		split("指令|指示|说明|說明|规则|規則|提示词|提示詞|设定|設定|命令|约束|約束|限制"),
	}, zhNotBefore, nil, zhMine},
	{"prompt_injection", "tells the model to ignore its instructions", 0.75, 2, [][]string{
		split("忽略|忽视|忽視|无视|無視|忘记|忘記|忘掉"),
		split("指令|指示|规则|規則|提示词|提示詞|系统提示|系統提示"),
	}, zhNotBefore, nil, zhMine},
	{"prompt_extraction", "asks for the system prompt", 0.85, 8, [][]string{
		split("告诉我|告訴我|显示|顯示|输出|輸出|打印|重复|重複|泄露|洩露|透露|展示|给我看|給我看|说出|說出|列出|复述|複述|写出|寫出|发给我|發給我"),
		split("系统提示词|系統提示詞|系统提示|系統提示|系统指令|系統指令|初始指令|原始指令|隐藏指令|隱藏指令|系统消息|系統訊息|你的提示词|你的提示詞|你的指令|你的设定|你的設定|你的规则|你的規則"),
	}, zhNotBefore, nil, nil},
	{"prompt_extraction", "asks for the system prompt", 0.85, 8, [][]string{
		split("把|將|将"),
		split("系统提示词|系統提示詞|系统提示|系統提示|系统指令|系統指令|初始指令|原始指令|隐藏指令|隱藏指令|系统消息|系統訊息|你的提示词|你的提示詞|你的指令|你的设定|你的設定"),
		split("告诉|告訴|显示|顯示|输出|輸出|打印|重复|重複|泄露|洩露|透露|展示|说出|說出|列出|复述|複述|写出|寫出|发给|發給|给我|給我"),
	}, zhNotBefore, nil, nil},
	{"prompt_extraction", "asks for the system prompt", 0.8, 3, [][]string{
		split("你的系统提示|你的系統提示|你的提示词|你的提示詞|你的系统指令|你的系統指令|你的初始指令"),
		split("是什么|是什麼|是啥"),
	}, nil, nil, nil},
	{"jailbreak", "asks for role-play without restrictions", 0.85, 10, [][]string{
		split("扮演|假装|假裝|装作|裝作|充当|充當|模拟|模擬|假设你是|假設你是|你现在是|你現在是"),
		split("没有任何限制|沒有任何限制|没有限制|沒有限制|不受任何限制|不受限制|无限制|無限制|不受约束|不受約束|没有道德|沒有道德|没有规则|沒有規則|不需要遵守|无需遵守|無需遵守|没有过滤|沒有過濾|不受任何约束"),
	}, zhNotBefore, nil, nil},

	// Japanese: which instructions, the noun, then the verb ("以前の指示をすべて無視して").
	{"prompt_injection", "tells the model to ignore its earlier instructions", 0.9, 6, [][]string{
		split("以前の|これまでの|上記の|前の|先ほどの|今までの|すべての|全ての|元の|最初の|システムの|あなたの|与えられた"),
		split("指示|命令|指令|ルール|規則|プロンプト|設定|制約"),
		split("無視|むし|忘れ|わすれ|従わな|破棄"),
	}, nil, jaNotAfter, jaMine},
	{"prompt_extraction", "asks for the system prompt", 0.85, 12, [][]string{
		split("システムプロンプト|システム・プロンプト|初期プロンプト|隠しプロンプト|システムメッセージ|あなたの指示|あなたへの指示|最初の指示|元の指示|隠された指示|内部の指示|あなたの設定"),
		split("教えて|表示|見せて|出力|開示|明かして|書き出して|繰り返して|暴露|漏らして|共有して|貼り付けて|は何|はなん"),
	}, nil, jaNotAfter, nil},
	{"jailbreak", "asks for role-play without restrictions", 0.85, 12, [][]string{
		split("制限のない|制限がない|制限なし|制約のない|制約なし|ルールのない|ルールに縛られない|倫理観のない|倫理的な制約のない|検閲のない|フィルターのない|何の制限もない|一切の制限がない"),
		split("として振る舞|として振舞|のふりを|ふりをして|を演じ|になりきって|として行動|として答え|で答えて|として回答|になって"),
	}, nil, jaNotAfter, nil},
	{"jailbreak", "declares the model unrestricted", 0.85, 15, [][]string{
		split("あなたは今から|今からあなたは|これからあなたは|あなたはこれから|あなたはもう"),
		split("制限のない|制限がない|制約のない|ルールに縛られない|何でもできる|検閲のない|フィルターのない|倫理観のない"),
	}, nil, nil, nil},
}

// cjkMeta, shortly before a phrase, mark text about injections rather than one.
var cjkMeta = []string{"例如", "比如", "例子", "攻击", "攻擊", "注入", "检测", "檢測", "例えば", "攻撃", "インジェクション", "検出", "という"}

func split(s string) []string { return strings.Split(s, "|") }

// matchCJK runs the Chinese and Japanese rules over text. When span is set, findings span it
// and carry decoding, as match's do.
func (d *injectionDetector) matchCJK(text string, span []int, decoding string) []Finding {
	var out []Finding
	for ri := range cjkRules {
		r := &cjkRules[ri]
		for _, first := range r.steps[0] {
			for from := 0; ; {
				k := strings.Index(text[from:], first)
				if k < 0 {
					break
				}
				s := from + k
				from = s + len(first)
				e, ok := from, true
				for _, step := range r.steps[1:] {
					window := text[e:runeAfter(text, e, r.gap)]
					// The earliest alternative; of those starting there, the longest.
					best, end := -1, 0
					for _, alt := range step {
						i := strings.Index(window, alt)
						switch {
						case i < 0:
						case best < 0 || i < best:
							best, end = i, i+len(alt)
						case i == best:
							end = max(end, i+len(alt))
						}
					}
					if best < 0 {
						ok = false
						break
					}
					e += end
				}
				if !ok || r.negated(text, s, e) {
					continue
				}
				score := r.score
				if hasAny(text[runeBefore(text, s, 20):s], cjkMeta) {
					score -= 0.5
				}
				fs, fe := s, e
				if span != nil {
					fs, fe = span[0], span[1]
				}
				out = append(out, Finding{Detector: "injection", Type: r.typ, Start: fs, End: fe, Score: score,
					Reason: r.what, Decoding: decoding})
				break
			}
		}
	}
	return out
}

// negated reports a negation or a first-person word next to the phrase text[s:e].
func (r *cjkRule) negated(text string, s, e int) bool {
	before := text[runeBefore(text, s, 3):s]
	for _, n := range r.notBefore {
		if strings.HasSuffix(before, n) {
			return true
		}
	}
	after := text[e:runeAfter(text, e, 5)]
	for _, n := range r.notAfter {
		if strings.HasPrefix(after, n) || strings.HasPrefix(strings.TrimPrefix(after, "を"), n) {
			return true
		}
	}
	return hasAny(text[runeBefore(text, s, 4):e], r.exclude)
}

func hasAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// runeAfter is the byte offset n runes after i in s (or its end).
func runeAfter(s string, i, n int) int {
	for ; n > 0 && i < len(s); n-- {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return i
}

// runeBefore is the byte offset n runes before i in s (or its start).
func runeBefore(s string, i, n int) int {
	for ; n > 0 && i > 0; n-- {
		_, size := utf8.DecodeLastRuneInString(s[:i])
		i -= size
	}
	return i
}
