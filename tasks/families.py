"""Template families shared by the Flan 2021 and T0-SF collections (data only: registers nothing).

A family is the templates of one kind of task (NLI, summarization, ...) over named fields; each
collection module maps its datasets' raw fields to a family's fields (`flan2021.py`, `t0.py`).
Kept apart from the collection modules because importing one of those registers its tasks, and
a family used by both must not register the other's.

Every family has several standard templates (zero-/few-shot, with options where it has a label
set) and input-inversion templates (the `_inv` format: from the answer back to what it answers),
as the Flan Collection's list has an "Inverted ..." task for each Flan 2021 dataset (Longpre et
al. 2023, Sec. 3; flan_collection_info.csv). The wording is ours.
"""
from flan_jax.data.templates import Template, TemplateSet


def t(*pairs: tuple[str, str]) -> tuple[Template, ...]:
    """Templates from (inputs, targets) pattern pairs."""
    return tuple(Template(i, o) for i, o in pairs)


NLI = TemplateSet(t(
    ("{premise}\n\nBased on the paragraph above can we conclude that \"{hypothesis}\"?\n\n{options_}", "{answer}"),
    ("{premise}\n\nCan we draw the following conclusion?\n{hypothesis}\n\n{options_}", "{answer}"),
    ("Premise: {premise}\nHypothesis: {hypothesis}\nDoes the premise entail the hypothesis?\n\n{options_}", "{answer}"),
    ("{premise}\nDoes this next sentence follow, given the preceding text?\n{hypothesis}\n\n{options_}", "{answer}"),
    ("Read the text and determine if the sentence is true:\n\n{premise}\n\nSentence: {hypothesis}\n{options_}", "{answer}"),
    ("Can we draw the following hypothesis from the context?\n\nContext:\n\n{premise}\n\nHypothesis: {hypothesis}\n{options_}", "{answer}"),
    ("Determine if the sentence is true based on the text below:\n{hypothesis}\n\n{premise}\n{options_}", "{answer}"),
    ("{premise}\n\nIs it true that {hypothesis}?\n{options_}", "{answer}"),
    ("Given \"{premise}\", is \"{hypothesis}\" a valid inference?\n{options_}", "{answer}"),
), options_field="options", inversion_templates=t(
    ("{premise}\n\nWrite a sentence such that the answer to \"Does the text above support it?\" is \"{answer}\".",
     "{hypothesis}"),
    ("Premise: {premise}\nAnswer: {answer}\nWrite a hypothesis for which this is the answer to whether the premise "
     "entails it.", "{hypothesis}"),
    ("Read this: {premise}\nNow write a statement; asked if the text implies it, one would say {answer}.",
     "{hypothesis}"),
))

SENTIMENT = TemplateSet(t(
    ("{text}\nWhat is the sentiment of this review?\n{options_}", "{answer}"),
    ("{text}\nDid this review think positively or negatively of the movie?\n{options_}", "{answer}"),
    ("Review: {text}\nIs this review positive or negative?\n{options_}", "{answer}"),
    ("How would one describe the sentiment of this text?\n{text}\n{options_}", "{answer}"),
    ("Determine the sentiment:\n\n{text}\n{options_}", "{answer}"),
    ("{text}\n\nChoose your answer. How does the reviewer feel?\n{options_}", "{answer}"),
    ("Is the sentiment of the following text positive or negative?\n{text}\n{options_}", "{answer}"),
    ("Text: {text}\nWhat is the tone of this text?\n{options_}", "{answer}"),
), options_field="options", inversion_templates=t(
    ("Write a short text whose sentiment is {answer}.", "{text}"),
    ("Generate a {answer} review.", "{text}"),
    ("Compose something a person might write when feeling {answer} about a product, film or place.", "{text}"),
))

PARAPHRASE = TemplateSet(t(
    ("Here are two sentences:\n{sentence1}\n{sentence2}\nDo they have the same meaning?\n{options_}", "{answer}"),
    ("Sentence 1: {sentence1}\nSentence 2: {sentence2}\nAre these two sentences paraphrases of each other?\n{options_}", "{answer}"),
    ("Do the following two sentences mean the same thing?\n{sentence1}\n{sentence2}\n\n{options_}", "{answer}"),
    ("{sentence1}\n{sentence2}\nAre these two sentences saying the same thing?\n{options_}", "{answer}"),
    ("Are the following two sentences semantically equivalent?\n\"{sentence1}\"\n\"{sentence2}\"\n{options_}", "{answer}"),
    ("Does \"{sentence1}\" convey the same information as \"{sentence2}\"?\n{options_}", "{answer}"),
    ("First: {sentence1}\nSecond: {sentence2}\nWould you say these are paraphrases?\n{options_}", "{answer}"),
    ("Rate how similar these are.\n{sentence1}\n{sentence2}\n{options_}", "{answer}"),
), options_field="options", inversion_templates=t(
    ("Sentence: {sentence1}\nWrite a second sentence; asked whether the two mean the same, the answer should be "
     "\"{answer}\".", "{sentence2}"),
    ("Here is a sentence: \"{sentence1}\". Produce another one so that \"{answer}\" answers whether they are "
     "paraphrases.", "{sentence2}"),
))

CLOSED_BOOK_QA = TemplateSet(t(
    ("{question}", "{answer}"),
    ("Answer the following question: {question}", "{answer}"),
    ("Q: {question}\nA:", "{answer}"),
    ("Question: {question}\nAnswer:", "{answer}"),
    ("Please answer this question: {question}", "{answer}"),
    ("What is the answer to this question? {question}", "{answer}"),
    ("Answer this question.\n\n{question}", "{answer}"),
    ("Write the answer: {question}", "{answer}"),
), inversion_templates=t(
    ("Write a trivia question whose answer is \"{answer}\".", "{question}"),
    ("Answer: {answer}\nWhat could the question have been?", "{question}"),
    ("Come up with a question that has the answer: {answer}", "{question}"),
))

MULTIPLE_CHOICE_QA = TemplateSet(t(
    ("{question}\n\n{options_}", "{answer}"),
    ("Question: {question}\nWhat is the correct answer to the question from the following choices?\n{options_}", "{answer}"),
    ("Q: {question}\n{options_}\nA:", "{answer}"),
    ("Pick the answer to this question.\n{question}\n{options_}", "{answer}"),
    ("{question}\nWhich is the correct answer?\n{options_}", "{answer}"),
    ("Answer the following multiple-choice question.\n{question}\n{options_}", "{answer}"),
), options_field="options", inversion_templates=t(
    ("Write a multiple-choice question whose correct answer is \"{answer}\".", "{question}"),
    ("The right choice is: {answer}\nWhat was the question?", "{question}"),
))

# Multiple choice over a passage (MULTIPLE_CHOICE_QA has none).
MULTIPLE_CHOICE = TemplateSet((
    Template("{context}\n\nGiven the context: {question}\n\n{options_}", "{answer}"),
    Template("{context}\n\nQuestion: {question}\n\nWhich one of these answers best answers the question?\n{options_}",
             "{answer}"),
    Template("Context: {context}\nQuestion: {question}\nPick the right answer from the list:\n{options_}", "{answer}"),
    Template("Read the following context and choose the best option to answer the question.\nContext: {context}\n"
             "Question: {question}\n{options_}", "{answer}"),
    Template("{question}\n{options_}\n\nUse the context to answer: {context}", "{answer}"),
    Template("Answer the question based on the context.\n{context}\n{question}\n{options_}", "{answer}"),
), options_field="options", inversion_templates=t(
    ("{context}\n\nWrite a question about this text whose answer is \"{answer}\".", "{question}"),
    ("Context: {context}\nAnswer: {answer}\nWhat question about the context has this answer?", "{question}"),
))

READING_QA = TemplateSet(t(
    ("{context}\n\nAnswer a question about this article:\n{question}", "{answer}"),
    ("Read this and answer the question.\n\n{context}\n\n{question}", "{answer}"),
    ("{context}\nQ: {question}\nA:", "{answer}"),
    ("Answer the question based on the passage.\nPassage: {context}\nQuestion: {question}", "{answer}"),
    ("Context: {context}\n\nQuestion: {question}\n\nAnswer:", "{answer}"),
    ("{question}\nFind the answer in this text:\n{context}", "{answer}"),
), inversion_templates=t(
    ("{context}\n\nWrite a question about the passage above whose answer is \"{answer}\".", "{question}"),
    ("Passage: {context}\nAnswer: {answer}\nWhat question does this answer, according to the passage?", "{question}"),
    ("Read the text and ask a question that \"{answer}\" answers.\n\n{context}", "{question}"),
))

READING_YES_NO = TemplateSet(t(
    ("{context}\n\nCan we conclude that {question}?\n{options_}", "{answer}"),
    ("{context}\nBased on the passage, {question}?\n{options_}", "{answer}"),
    ("Read the text and answer the question.\n{context}\nQuestion: {question}?\n{options_}", "{answer}"),
    ("Passage: {context}\nAfter reading this passage, is the answer to \"{question}\" true?\n{options_}", "{answer}"),
    ("{context}\n\nIs the following statement correct based on the text?\n{question}\n{options_}", "{answer}"),
), options_field="options", inversion_templates=t(
    ("{context}\n\nWrite a yes/no question about this passage whose answer is \"{answer}\".", "{question}"),
    ("Passage: {context}\nThe answer is {answer}. What was the yes/no question?", "{question}"),
))

CONTINUATION = TemplateSet(t(
    ("{context}\n\n{question}\n{options_}", "{answer}"),
    ("Pick the most sensible option.\n{context}\n{question}\n{options_}", "{answer}"),
    ("Context: {context}\n{question}\nChoose one:\n{options_}", "{answer}"),
    ("{context}\nWhich of the following is the best answer to \"{question}\"?\n{options_}", "{answer}"),
    ("Complete the description with the most likely option.\n{context}\n{options_}", "{answer}"),
), options_field="options", inversion_templates=t(
    ("{question} {answer}\nWrite the situation this is the answer for.", "{context}"),
    ("Here is how it went on: \"{answer}\". Describe what came before it.", "{context}"),
))

COREFERENCE = TemplateSet(t(
    ("{sentence}\n\n{question}\n{options_}", "{answer}"),
    ("Read this sentence and answer the question.\n{sentence}\n{question}\n{options_}", "{answer}"),
    ("Sentence: {sentence}\nQuestion: {question}\n{options_}", "{answer}"),
    ("{question}\n\"{sentence}\"\n{options_}", "{answer}"),
), options_field="options", inversion_templates=t(
    ("Write a sentence for which the answer to \"{question}\" is \"{answer}\".", "{sentence}"),
    ("Question: {question}\nAnswer: {answer}\nWhat sentence was the question about?", "{sentence}"),
))

SUMMARIZATION = TemplateSet(t(
    ("{text}\n\nWrite a summary of the text above.", "{summary}"),
    ("Article: {text}\n\nSummarize the article.", "{summary}"),
    ("Summarize this:\n\n{text}", "{summary}"),
    ("{text}\nTL;DR:", "{summary}"),
    ("Write a short summary for this text: {text}", "{summary}"),
), inversion_templates=t(
    ("Write an article based on this summary:\n\n{summary}", "{text}"),
    ("Summary: {summary}\n\nExpand the summary into a full text.", "{text}"),
    ("{summary}\n\nWhat might the original document have said?", "{text}"),
))

STRUCT_TO_TEXT = TemplateSet(t(
    ("Data: {data}\n\nWrite a sentence that describes this data.", "{answer}"),
    ("Generate a sentence about this data: {data}", "{answer}"),
    ("{data}\n\nWhat is a sentence that expresses these facts?", "{answer}"),
    ("Write a sentence using all of these: {data}", "{answer}"),
), inversion_templates=t(
    ("Sentence: {answer}\n\nList the facts in this sentence as structured data.", "{data}"),
    ("{answer}\nWhat data does the sentence above describe?", "{data}"),
))

TRANSLATION = TemplateSet(t(
    ("{source}\n\nTranslate to {target_lang}.", "{answer}"),
    ("Translate the following sentence to {target_lang}:\n{source}", "{answer}"),
    ("How is \"{source}\" said in {target_lang}?", "{answer}"),
    ("{source_lang}: {source}\n{target_lang}:", "{answer}"),
), inversion_templates=t(
    ("This is a {target_lang} translation: {answer}\nWhat was the {source_lang} original?", "{source}"),
    ("{target_lang}: {answer}\nWhich {source_lang} sentence was translated into this?", "{source}"),
))

TOPIC = TemplateSet(t(
    ("{text}\n\nWhat is this text about?\n{options_}", "{answer}"),
    ("Which topic is this article about?\n\n{text}\n{options_}", "{answer}"),
    ("Classify this text: {text}\n{options_}", "{answer}"),
    ("{text}\nWhich category best describes it?\n{options_}", "{answer}"),
), options_field="options", inversion_templates=t(
    ("Write a short text that belongs to the category \"{answer}\".", "{text}"),
    ("Topic: {answer}\nGenerate a text on this topic.", "{text}"),
))

ACCEPTABILITY = TemplateSet(t(
    ("Sentence: \"{sentence}\"\nWould a linguist rate this sentence to be acceptable linguistically?\n{options_}",
     "{answer}"),
    ("{sentence}\n\nIs this sentence grammatical English?\n{options_}", "{answer}"),
    ("Judge the grammaticality of this sentence.\n{sentence}\n{options_}", "{answer}"),
    ("Is the following sentence linguistically acceptable?\n{sentence}\n{options_}", "{answer}"),
    ("Test sentence: \"{sentence}\"\nIs this test sentence a correct grammatical English sentence?\n{options_}",
     "{answer}"),
), options_field="options", inversion_templates=t(
    ("Write a sentence that a linguist would judge {answer}.", "{sentence}"),
    ("Produce an English sentence whose grammaticality is: {answer}", "{sentence}"),
))

WORD_SENSE = TemplateSet(t(
    ("{sentence1}\n{sentence2}\nDoes the word \"{word}\" mean the same thing in the two sentences above?\n{options_}",
     "{answer}"),
    ("Sentence A: {sentence1}\nSentence B: {sentence2}\n\"{word}\" has which meaning in these sentences?\n{options_}",
     "{answer}"),
    ("Is the word \"{word}\" used in the same way in these two sentences?\n{sentence1}\n{sentence2}\n{options_}",
     "{answer}"),
    ("Word: {word}\n1. {sentence1}\n2. {sentence2}\nSame sense or different senses?\n{options_}", "{answer}"),
), options_field="options", inversion_templates=t(
    ("Write two sentences that use the word \"{word}\" with {answer}.", "{sentence1}\n{sentence2}"),
    ("Word: {word}\nCompose a pair of sentences in which it has {answer}.", "{sentence1}\n{sentence2}"),
))

LANGUAGE_MODELING = TemplateSet(t(
    ("{context} ___\n\nWhat is the word in the blank space (___)?", "{answer}"),
    ("Predict the last word of this passage: {context}", "{answer}"),
    ("{context}\n\nWhat is the next word?", "{answer}"),
    ("Finish the text with one word.\n\n{context}", "{answer}"),
), inversion_templates=t(
    ("Write a passage that ends with the word \"{answer}\".", "{context}"),
    ("The final word is \"{answer}\". What text could come before it?", "{context}"),
))

MATH_QA = TemplateSet(t(
    ("{question}", "{answer}"),
    ("Math problem: {question}\nWhat is the solution?", "{answer}"),
    ("Solve this math problem\n\n{question}", "{answer}"),
    ("What is the solution?\n\n{question}", "{answer}"),
    ("Problem: {question}\nAnswer:", "{answer}"),
), inversion_templates=t(
    ("Write a math problem whose answer is {answer}.", "{question}"),
    ("Answer: {answer}\nCompose a linear equation problem with this solution.", "{question}"),
))

PUNCTUATION = TemplateSet(t(
    ("{text}\n\nAdd punctuation.", "{answer}"),
    ("Please add punctuation to this: {text}", "{answer}"),
    ("{text}\n\nWhat is the correctly punctuated version of this sentence?", "{answer}"),
    ("Punctuate the following text:\n{text}", "{answer}"),
), inversion_templates=t(
    ("Remove the punctuation from this text: {answer}", "{text}"),
    ("{answer}\n\nWrite the sentence above without punctuation marks.", "{text}"),
))

CASING = TemplateSet(t(
    ("{text}\n\nWrite the above sentence using proper case.", "{answer}"),
    ("{text}\nCan you repeat this sentence, but capitalize it correctly?", "{answer}"),
    ("Make this proper case: {text}", "{answer}"),
    ("Restore the capital letters of this text.\n{text}", "{answer}"),
), inversion_templates=t(
    ("Write this sentence in all lowercase letters: {answer}", "{text}"),
    ("{answer}\n\nHow would the text above look in lower case?", "{text}"),
))

WORD_SEGMENTATION = TemplateSet(t(
    ("{text}\n\nPlease segment the words.", "{answer}"),
    ("Add spaces: {text}", "{answer}"),
    ("This text is missing spaces between words, put them back: {text}", "{answer}"),
    ("{text}\nWhat is the above text with the spaces restored?", "{answer}"),
), inversion_templates=t(
    ("Remove all the spaces from this sentence: {answer}", "{text}"),
    ("{answer}\n\nWrite the text above with the words run together.", "{text}"),
))

CONVERSATIONAL_QA = TemplateSet(t(
    ("{context}\n\nAnswer the following questions, in order:\n{questions}", "{answers}"),
    ("Read the text and answer the questions.\n\n{context}\n\n{questions}\n\nNumbered answers:", "{answers}"),
    ("{context}\n\nBased on the article and the following list of answers, write a list of answers.\n\n{questions}",
     "{answers}"),
    ("Story: {context}\n\nQuestions:\n{questions}\n\nAnswers:", "{answers}"),
), inversion_templates=t(
    ("{context}\n\nHere are numbered answers about the text:\n{answers}\n\nWrite the questions they answer.",
     "{questions}"),
    ("Story: {context}\nAnswers:\n{answers}\nWhat were the numbered questions?", "{questions}"),
))

PLACEHOLDER_QA = TemplateSet(t(
    ("{passage}\n\nIn the sentence below, what does \"@placeholder\" stand for?\n{query}\n{options_}", "{answer}"),
    ("Read the article and fill in the blank (@placeholder).\n\n{passage}\n\n{query}\n{options_}", "{answer}"),
    ("{passage}\n\nWhich entity completes this sentence? {query}\n{options_}", "{answer}"),
    ("Article: {passage}\nSentence: {query}\nWhat is @placeholder?\n{options_}", "{answer}"),
), options_field="options", inversion_templates=t(
    ("{passage}\n\nWrite a sentence about {answer} that follows from the article.", "{statement}"),
    ("Article: {passage}\nState a fact from the article that mentions {answer}.", "{statement}"),
))

OPINION_SUMMARY = TemplateSet(t(
    ("Opinions about {topic}:\n{opinions}\n\nWrite a one-sentence summary of these opinions.", "{summary}"),
    ("Here are some arguments on {topic}.\n{opinions}\nWhat claim do they support?", "{summary}"),
    ("{opinions}\n\nSummarize the views above about {topic}.", "{summary}"),
    ("Topic: {topic}\nStatements:\n{opinions}\nConsensus:", "{summary}"),
), inversion_templates=t(
    ("Write a few short opinions about {topic} that support this view: {summary}", "{opinions}"),
    ("Consensus on {topic}: {summary}\nList the statements that could have led to it.", "{opinions}"),
))

RATING = TemplateSet(t(
    ("Review: {text}\nOn a scale of 1 to 5 (5 is best), how would you rate this review?\n{options_}", "{answer}"),
    ("What star rating (1-5) would go with this review?\n{text}\n{options_}", "{answer}"),
    ("\"{text}\"\nHow many stars did the reviewer give?\n{options_}", "{answer}"),
    ("Given this app review, predict its rating from 1 to 5.\n{text}\n{options_}", "{answer}"),
), options_field="options", inversion_templates=t(
    ("Write a {answer}-star review of an app with package {subject}.", "{text}"),
    ("Generate a review of the app {subject} that deserves {answer} stars out of 5.", "{text}"),
))
