def execute_command(image):
    # Question: What number is on the blue sign?
    # Answer with the number, or "N/A" if there is no blue sign or it has a word on it.
    image_patch = ImagePatch(image)
    blue_signs = image_patch.find("blue sign")
    for sign_patch in blue_signs:
        text = sign_patch.simple_query("What does the sign say?")
        if text.isdigit():
            return text
    if len(blue_signs) == 0:
        # The color filter may have rejected a faded blue sign: check every sign
        for sign_patch in image_patch.find("sign"):
            if sign_patch.verify_property("sign", "blue"):
                number = sign_patch.simple_query("What number is on the sign?")
                if number.isdigit():
                    return number
    # a word, not a number, or no blue sign at all
    return "N/A"
