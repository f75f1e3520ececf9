package bench

// commonWords are frequent English words, most frequent first; the synthetic
// corpus draws from them with a Zipf distribution so that text looks like
// real English to a WordPiece tokenizer (mostly whole-word tokens, some
// sub-words).
func commonWords() []string {
	return []string{
		"the", "of", "and", "to", "a", "in", "is", "for", "that", "on", "with", "as", "it", "are", "by",
		"was", "be", "this", "from", "or", "at", "an", "which", "can", "have", "not", "you", "your", "has", "also",
		"one", "more", "their", "other", "they", "all", "when", "used", "may", "will", "most", "some", "these", "about", "into",
		"after", "how", "many", "time", "first", "two", "years", "people", "such", "what", "its", "than", "where", "there", "each",
		"water", "body", "blood", "number", "name", "part", "state", "world", "city", "system", "form", "day", "cost", "average", "year",
		"between", "during", "because", "each", "called", "known", "found", "made", "include", "including", "different", "common", "small", "large", "high",
		"temperature", "price", "cells", "heart", "skin", "disease", "symptoms", "treatment", "doctor", "hospital", "medicine", "health", "pain", "muscle", "bone",
		"salary", "company", "business", "money", "bank", "credit", "account", "insurance", "tax", "income", "market", "stock", "service", "customer", "phone",
		"country", "government", "president", "law", "court", "police", "school", "student", "university", "college", "degree", "teacher", "class", "history", "war",
		"river", "mountain", "island", "ocean", "weather", "climate", "rain", "snow", "winter", "summer", "spring", "season", "plant", "tree", "flower",
		"animal", "dog", "cat", "bird", "fish", "horse", "food", "meat", "chicken", "rice", "bread", "sugar", "salt", "oil", "cheese",
		"cook", "bake", "minutes", "hours", "oven", "degrees", "recipe", "kitchen", "house", "home", "room", "door", "window", "floor", "wall",
		"car", "engine", "vehicle", "road", "drive", "travel", "flight", "airport", "hotel", "trip", "distance", "miles", "kilometers", "north", "south",
		"east", "west", "central", "county", "region", "area", "population", "located", "capital", "language", "english", "spanish", "french", "german", "chinese",
		"computer", "software", "data", "internet", "network", "email", "website", "online", "program", "file", "windows", "device", "screen", "battery", "power",
		"energy", "light", "heat", "air", "gas", "carbon", "oxygen", "protein", "vitamin", "calcium", "iron", "acid", "chemical", "process", "reaction",
		"music", "song", "movie", "film", "book", "story", "character", "game", "team", "player", "season", "league", "sport", "football", "baseball",
		"child", "children", "baby", "mother", "father", "family", "woman", "women", "man", "men", "age", "life", "death", "born", "live",
		"work", "job", "employee", "employer", "hour", "week", "month", "date", "period", "term", "level", "rate", "percent", "amount", "total",
		"use", "make", "take", "get", "give", "find", "help", "need", "keep", "start", "show", "turn", "move", "change", "increase",
		"reduce", "cause", "prevent", "require", "provide", "produce", "contain", "occur", "affect", "protect", "support", "allow", "create", "develop", "grow",
		"good", "best", "new", "old", "long", "short", "low", "early", "late", "important", "normal", "natural", "human", "public", "local",
		"national", "international", "american", "united", "states", "federal", "social", "medical", "physical", "mental", "major", "minor", "general", "specific", "similar",
		"definition", "meaning", "example", "type", "types", "kind", "group", "member", "list", "information", "question", "answer", "result", "effect", "reason",
		"side", "effects", "risk", "test", "tests", "level", "levels", "normal", "range", "dose", "tablet", "infection", "virus", "bacteria", "immune",
		"brain", "nerve", "liver", "kidney", "lung", "stomach", "tissue", "organ", "gene", "genetic", "cancer", "diabetes", "pressure", "weight", "diet",
		"exercise", "sleep", "stress", "mind", "memory", "learn", "study", "research", "science", "theory", "method", "model", "design", "structure", "function",
		"material", "metal", "wood", "glass", "paper", "plastic", "stone", "soil", "land", "earth", "sun", "moon", "star", "planet", "space",
		"church", "religion", "god", "ancient", "modern", "century", "empire", "king", "queen", "army", "battle", "revolution", "culture", "art", "painting",
		"building", "bridge", "street", "park", "museum", "library", "office", "store", "shop", "product", "brand", "quality", "value", "size", "color",
		"red", "blue", "green", "white", "black", "yellow", "hair", "eye", "eyes", "hand", "foot", "head", "face", "back", "leg",
		"phone", "number", "call", "contact", "address", "zip", "code", "card", "pay", "paid", "fee", "fees", "loan", "mortgage", "interest",
		"legal", "contract", "property", "owner", "rent", "lease", "sale", "buy", "sell", "order", "delivery", "shipping", "free", "cheap", "expensive",
		"cup", "tablespoon", "teaspoon", "pound", "ounce", "gallon", "inch", "foot", "feet", "meter", "square", "per", "about", "approximately", "usually",
		"often", "always", "never", "sometimes", "generally", "typically", "only", "even", "still", "however", "therefore", "although", "while", "since", "until",
		"who", "whom", "whose", "why", "does", "did", "do", "should", "would", "could", "must", "might", "shall", "being", "been",
	}
}
