def execute_command(image):
    # Question: Does a green sign say OPEN?
    image_patch = ImagePatch(image)
    green_signs = image_patch.find("green sign")
    for sign_patch in green_signs:
        text = sign_patch.simple_query("What does the sign say?")
        if text == "OPEN":
            return "yes"
        elif len(text) == 4:
            # a four-letter reading might be OPEN misread (0PEN, OPFN): check it
            if sign_patch.verify_property("sign", "says OPEN"):
                return "yes"
    return "no"
